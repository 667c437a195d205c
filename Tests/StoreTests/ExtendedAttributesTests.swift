import Chunker
import Testing
import TestSupport
@testable import Store
#if canImport(Glibc)
import Glibc
#endif

/// Extended attributes and device numbers: their encoding, the catalog's columns, the versions
/// metadata record (old decoders must still read it), and reading and setting them on real files.
@Suite struct ExtendedAttributesTests {
    static let sample = ExtendedAttributes([
        .init(name: Array("user.z".utf8), value: [0, 1, 2, 255]),
        .init(name: Array("system.posix_acl_access".utf8), value: [2, 0, 0, 0]),
        .init(name: Array("user.empty".utf8), value: []),
    ])

    @Test func encodingRoundTripsSortedByName() throws {
        let attributes = ExtendedAttributesTests.sample
        #expect(attributes.attributes.map(\.displayName) == ["system.posix_acl_access", "user.empty", "user.z"])
        let encoded = try #require(attributes.encoded)
        #expect(try ExtendedAttributes(encoded: encoded) == attributes)
        #expect(ExtendedAttributes().encoded == nil, "no attributes: nothing stored")
    }

    @Test func malformedEncodingsAreRefused() throws {
        func encode(_ pairs: [([UInt8], [UInt8])], count: UInt64? = nil, version: UInt8 = 1) -> [UInt8] {
            var writer = ByteWriter()
            writer.append(version)
            writer.appendVarint(count ?? UInt64(pairs.count))
            for (name, value) in pairs {
                writer.appendBytes(name)
                writer.appendBytes(value)
            }
            return writer.bytes
        }
        let a = Array("user.a".utf8), b = Array("user.b".utf8)
        #expect(try ExtendedAttributes(encoded: encode([(a, [1]), (b, [2])])).attributes.count == 2)
        let bad: [(String, [UInt8])] = [
            ("unsorted", encode([(b, [1]), (a, [2])])),
            ("duplicate", encode([(a, [1]), (a, [2])])),
            ("empty name", encode([([], [1])])),
            ("NUL in name", encode([([0x75, 0, 0x61], [1])])),
            ("name over 255 bytes", encode([([UInt8](repeating: 0x61, count: 256), [1])])),
            ("value over 64 KiB", encode([(a, [UInt8](repeating: 1, count: (1 << 16) + 1))])),
            ("huge count", encode([], count: 1 << 40)),
            ("count beyond the bytes", encode([(a, [1])], count: 2)),
            ("trailing bytes", encode([(a, [1])]) + [0]),
            ("unknown format", encode([(a, [1])], version: 2)),
        ]
        for (what, bytes) in bad {
            #expect(throws: StoreError.self, "\(what)") { _ = try ExtendedAttributes(encoded: bytes) }
        }
    }

    func versions() -> [(folder: [UInt8], version: FileVersion)] {
        var file = FileVersion(path: Array("a.txt".utf8), type: .file, size: 3, mode: 0o644, modifiedBy: 7)
        file.sequence = 1
        var device = FileVersion(path: Array("null".utf8), type: .characterDevice, mode: 0o666, modifiedBy: 7)
        device.sequence = 2
        var plain = FileVersion(path: Array("b.txt".utf8), type: .file, size: 1, mode: 0o600, modifiedBy: 7)
        plain.sequence = 3
        return [(Array("/src".utf8), file), (Array("/src".utf8), device), (Array("/src".utf8), plain)]
    }

    @Test func versionsRecordsCarryAttributesAndDeviceNumbersCompatibly() throws {
        let old = versions()
        var new = old
        new[0].version.xattrs = ExtendedAttributesTests.sample
        new[1].version.rdev = 0x103
        let oldBytes = MetadataRecord.encodeVersions(old, blockLists: [])
        let newBytes = MetadataRecord.encodeVersions(new, blockLists: [])
        // A decoder that predates the extras stops where the record used to end: it reads the same.
        #expect(newBytes.count > oldBytes.count && newBytes.starts(with: oldBytes))
        let decoded = try MetadataRecord.decodeVersions(newBytes)
        #expect(decoded.versions.map(\.version) == new.map(\.version))
        #expect(try MetadataRecord.decodeVersions(oldBytes).versions.map(\.version) == old.map(\.version))

        // Extras naming a version the record lacks, or out of order, are damage.
        var writer = ByteWriter()
        writer.appendVarint(1)
        writer.appendVarint(3)
        writer.appendVarint(1)
        writer.appendBytes([])
        #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeVersions(oldBytes + writer.bytes) }
    }

    @Test func theCatalogKeepsAttributesAndDeviceNumbers() throws {
        let directory = try TemporaryDirectory()
        let catalog = try Catalog(path: directory.path(for: "catalog.db"))
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        var recorded: [FileVersion] = []
        for (_, version) in versions() {
            var version = version
            if version.type == .file && version.size == 3 { version.xattrs = ExtendedAttributesTests.sample }
            if version.type == .characterDevice { version.rdev = 0x103 }
            version.sequence = try catalog.insertVersion(version, nameID: try catalog.nameID(folder: folder, parent: 0, name: version.path))
            recorded.append(version)
        }
        var read: [FileVersion] = []
        try catalog.forEachEntry(folder: folder, asOf: .max) { read.append($0) }
        #expect(read.sorted { $0.sequence < $1.sequence } == recorded)
        #expect(try catalog.database.scalar("SELECT count(*) FROM versions WHERE xattrs IS NULL") == 2, "none: NULL")
    }

    @Test func attributesAreReadAndSetOnRealFiles() throws {
        let directory = try TemporaryDirectory()
        let source = try directory.write([1, 2, 3], to: "source")
        let copy = try directory.write([1, 2, 3], to: "copy")
        let attributes = ExtendedAttributes([.init(name: Array("user.one".utf8), value: Array("1".utf8)),
                                             .init(name: Array("user.binary".utf8), value: [0, 255, 0])])
        #expect(attributes.write(path: Array(source.utf8), acls: false).isEmpty)
        #expect(try ExtendedAttributes.read(path: Array(source.utf8)) == attributes)

        let descriptor = open(copy, O_RDWR | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        #expect(try ExtendedAttributes.read(fd: descriptor).isEmpty)
        #expect(attributes.write(fd: descriptor, acls: true).isEmpty, "no ACLs among them: nothing set")
        #expect(try ExtendedAttributes.read(fd: descriptor).isEmpty)
        #expect(attributes.write(fd: descriptor, acls: false).isEmpty)
        #expect(try ExtendedAttributes.read(fd: descriptor) == attributes)

        // user.* is not allowed on a symlink: the failure names the attribute.
        let link = directory.path(for: "link")
        #expect(symlink("source", link) == 0)
        let failures = attributes.write(path: Array(link.utf8), acls: false)
        #expect(failures.count == 2 && failures.allSatisfy { $0.description.contains("cannot set extended attribute user.") })
        #expect(try ExtendedAttributes.read(path: Array(link.utf8)).isEmpty, "the link's own attributes, not its target's")
    }
}
