import Chunker
import Testing
import TestSupport
@testable import Store

@Suite struct CatalogTests {
    func makeCatalog(_ directory: TemporaryDirectory) throws -> Catalog {
        try Catalog(path: directory.path(for: "catalog.db"))
    }

    func file(_ path: String, size: Int64, deleted: Bool = false) -> FileVersion {
        FileVersion(path: Array(path.utf8), type: .file, size: size, mode: 0o644, deleted: deleted)
    }

    @Test func stateAsOfASequenceTakesTheNewestVersionAtOrBeforeIt() throws {
        let directory = try TemporaryDirectory()
        let catalog = try makeCatalog(directory)
        let folder = try #require(try catalog.folderID(path: Array("/src".utf8), create: true))
        let a = try catalog.nameID(folder: folder, parent: 0, name: Array("a".utf8))
        let b = try catalog.nameID(folder: folder, parent: 0, name: Array("b".utf8))
        let s1 = try catalog.insertVersion(file("a", size: 1), nameID: a)
        try catalog.insertVersion(file("b", size: 2), nameID: b)
        let s3 = try catalog.insertVersion(file("a", size: 10), nameID: a)
        let s4 = try catalog.insertVersion(file("b", size: 2, deleted: true), nameID: b)

        func state(_ sequence: Int64) throws -> [String: Int64] {
            var result: [String: Int64] = [:]
            try catalog.forEachEntry(folder: folder, asOf: sequence) { result[$0.displayPath] = $0.size }
            return result
        }
        #expect(try state(s1) == ["a": 1])
        #expect(try state(s3) == ["a": 10, "b": 2])
        #expect(try state(s4) == ["a": 10])
        #expect(try catalog.history(folder: folder, path: Array("b".utf8)).map(\.deleted) == [false, true])
        let latest = try catalog.latestChildren(folder: folder, parent: 0, directory: [])
        #expect(latest[PathKey(Array("a".utf8))]?.version.size == 10)
        #expect(latest[PathKey(Array("b".utf8))]?.version.deleted == true)
    }

    @Test func namesThatAreNotUTF8RoundTrip() throws {
        let directory = try TemporaryDirectory()
        let catalog = try makeCatalog(directory)
        let folder = try #require(try catalog.folderID(path: [0x2F, 0xFE], create: true))
        let name: [UInt8] = [0x66, 0xFF, 0x00, 0x2E, 0x74]
        let id = try catalog.nameID(folder: folder, parent: 0, name: name)
        try catalog.insertVersion(FileVersion(path: name, type: .file, size: 5), nameID: id)
        #expect(try catalog.history(folder: folder, path: name).first?.path == name)
        #expect(try catalog.folders().first?.path == [0x2F, 0xFE])
    }

    @Test func blockListsAreStoredOncePerContent() throws {
        let directory = try TemporaryDirectory()
        let catalog = try makeCatalog(directory)
        let ids = (0..<3).flatMap { SHA256Hasher.hash([UInt8($0)]).bytes }
        let hash = SHA256Hasher.hash(ids)
        try catalog.insertBlockList(hash: hash, ids: ids, size: 3)
        try catalog.insertBlockList(hash: hash, ids: ids, size: 3)
        #expect(try catalog.database.scalar("SELECT count(*) FROM blocklists") == 1)
        #expect(try catalog.blockList(hash) == (0..<3).map { SHA256Hasher.hash([UInt8($0)]) })
    }

    @Test func aNewerSchemaIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path(for: "catalog.db")
        _ = try Catalog(path: path)
        let database = try Database(path: path)
        try database.execute("PRAGMA user_version=99")
        database.close()
        #expect(throws: StoreError.self) { _ = try Catalog(path: path) }
    }
}

@Suite struct VersionVectorTests {
    @Test func updatesAndComparesLikeSyncthing() throws {
        let empty = VersionVector()
        let a1 = empty.updated(by: 1, nowSeconds: 100)
        #expect(a1.counter(for: 1) == 100)
        let a2 = a1.updated(by: 1, nowSeconds: 50)
        #expect(a2.counter(for: 1) == 101, "a counter never goes backwards, even with a clock that does")
        let b = a1.updated(by: 2, nowSeconds: 200)
        #expect(a2.compare(a1) == .greater)
        #expect(a1.compare(a2) == .lesser)
        #expect(a2.compare(b) == .concurrent)
        #expect(a1.compare(a1) == .equal)
        #expect(try VersionVector(encoded: b.encoded) == b)
        #expect(throws: StoreError.self) { _ = try VersionVector(encoded: [1, 2, 3]) }
    }
}

@Suite struct MetadataRecordTests {
    @Test func versionsAndSnapshotsRoundTrip() throws {
        var version = FileVersion(path: [0x61, 0xFF, 0x2F, 0x62], type: .file, size: 1234, mode: 0o640, uid: 1000, gid: 100,
                                  modificationTime: -5, changeTime: 1_700_000_000_123_456_789, inode: .max, device: 42,
                                  linkCount: 2, version: VersionVector().updated(by: 7, nowSeconds: 99),
                                  blockListHash: SHA256Hasher.hash([1]), modifiedBy: 7)
        version.sequence = 77
        var link = FileVersion(path: Array("l".utf8), type: .symlink, linkTarget: [])
        link.sequence = 78
        let lists = [MetadataRecord.BlockListRecord(hash: SHA256Hasher.hash([1]), size: 1234, ids: SHA256Hasher.hash([2]).bytes)]
        let bytes = MetadataRecord.encodeVersions([(Array("/src".utf8), version), (Array("/other".utf8), link)], blockLists: lists)
        let decoded = try MetadataRecord.decodeVersions(bytes)
        #expect(decoded.versions.map(\.version) == [version, link])
        #expect(decoded.versions.map(\.folder) == [Array("/src".utf8), Array("/other".utf8)])
        #expect(decoded.blockLists == lists)
        // Every prefix of a record is refused rather than misread.
        for cut in stride(from: 0, to: bytes.count - 1, by: 7) {
            #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeVersions(Array(bytes[0..<cut])) }
        }
        let snapshot = Snapshot(id: "0123456789abcdef", folderPath: Array("/src".utf8), time: 5, host: "h", tags: ["a", "b"],
                                sequence: 78, files: 1, bytes: 1234, partial: true, metadataID: nil)
        let (back, records) = try MetadataRecord.decodeSnapshot(MetadataRecord.encodeSnapshot(snapshot, versionRecords: [SHA256Hasher.hash([3])]))
        #expect(back == snapshot)
        #expect(records == [SHA256Hasher.hash([3])])
    }
}
