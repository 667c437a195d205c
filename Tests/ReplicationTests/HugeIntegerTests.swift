import Chunker
import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// Integers from a peer or a pack are checked against their range before they become an `Int` (a
/// conversion that does not fit traps: `serve` died of SIGILL). Each count, type and length field
/// holding 2^63 or 2^64−1 must be refused with an error.
@Suite struct HugeIntegerTests {
    static let huge: [UInt64] = [1 << 63, UInt64.max]

    /// A versions record of one folder, one version and one block list, with `field` set to `value`.
    static func versionsRecord(_ field: String, _ value: UInt64) -> [UInt8] {
        func pick(_ name: String, _ normal: UInt64) -> UInt64 { name == field ? value : normal }
        var writer = ByteWriter()
        writer.append(MetadataRecord.versionsKind)
        writer.appendVarint(pick("folders", 1))
        writer.appendBytes(Array("/src".utf8))
        writer.appendVarint(pick("versions", 1))
        writer.appendVarint(pick("folder", 0))
        writer.appendSigned(1)
        writer.appendBytes(Array("a".utf8))
        writer.appendVarint(pick("type", UInt64(EntryType.file.rawValue)))
        writer.appendSigned(5)
        for _ in 0..<3 { writer.appendVarint(0) }   // mode, uid, gid
        writer.appendSigned(0)
        writer.appendSigned(0)
        for _ in 0..<3 { writer.appendVarint(0) }   // inode, device, nlink
        writer.append(0)
        writer.appendBytes([])
        writer.appendBytes(SHA256Hasher.hash(Array("hello".utf8)).bytes)
        writer.appendVarint(pick("blocks", 1))
        writer.append(0)
        writer.appendBytes([])
        writer.appendVarint(0)
        writer.appendVarint(pick("lists", 0))
        return writer.bytes
    }

    static let versionFields = ["folders", "versions", "folder", "type", "blocks", "lists"]

    @Test(arguments: versionFields, huge)
    func aVersionsRecordWithAHugeFieldIsCorrupt(field: String, value: UInt64) throws {
        #expect(throws: Never.self) { _ = try MetadataRecord.decodeVersions(Self.versionsRecord("none", 0)) }
        #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeVersions(Self.versionsRecord(field, value)) }
    }

    @Test(arguments: huge)
    func snapshotAndForgetRecordsWithHugeCountsAreCorrupt(value: UInt64) throws {
        let snapshot = ServeRunner.snapshot(id: "0000000000000001", sequence: 1)
        var record = MetadataRecord.encodeSnapshot(snapshot, versionRecords: [])
        #expect(throws: Never.self) { _ = try MetadataRecord.decodeSnapshot(record) }
        record.removeLast()
        var writer = ByteWriter()
        writer.appendVarint(value)
        #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeSnapshot(record + writer.bytes) }

        for position in 0..<2 {
            var forget = ByteWriter()
            forget.append(MetadataRecord.forgetKind)
            forget.appendVarint(position == 0 ? value : 0)
            forget.appendVarint(position == 1 ? value : 0)
            #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeForget(forget.bytes) }
        }
        var dictionary = ByteWriter()
        dictionary.append(MetadataRecord.dictionaryKind)
        dictionary.appendVarint(value)
        dictionary.appendBytes([1, 2, 3])
        #expect(throws: StoreError.self) { _ = try MetadataRecord.decodeDictionary(dictionary.bytes) }
    }

    /// Hand-made payloads of each message with a huge count, length or sequence.
    static func payloads(_ value: UInt64) -> [(Message.Kind, [UInt8])] {
        var result: [(Message.Kind, [UInt8])] = []
        func add(_ kind: Message.Kind, _ build: (inout ByteWriter) -> Void) {
            var writer = ByteWriter()
            build(&writer)
            result.append((kind, writer.bytes))
        }
        add(.indexRequest) { $0.appendSigned(0); $0.appendVarint(value) }
        add(.indexBatch) { $0.append(1); $0.appendBytes(versionsRecord("folders", value)) }
        add(.indexBatch) { $0.append(1); $0.appendBytes(versionsRecord("blocks", value)) }
        add(.indexBatch) { $0.append(1); $0.appendBytes(versionsRecord("type", value)) }
        add(.indexBatch) { $0.append(1); $0.appendBytes(versionsRecord("none", 0)); $0.appendVarint(value) }
        add(.blockRequest) { $0.appendVarint(value) }
        add(.blockResponse) { $0.appendVarint(value) }
        add(.blockResponse) {
            $0.appendVarint(1)
            $0.append(SHA256Hasher.hash([1]))
            $0.append(0)
            $0.appendVarint(value)
            $0.appendBytes([1])
        }
        add(.blockResponse) {
            $0.appendVarint(1)
            $0.append(SHA256Hasher.hash([1]))
            $0.append(0)
            $0.appendVarint(1)
            $0.appendVarint(value)
        }
        add(.dictionaryRequest) { $0.appendVarint(value) }
        add(.dictionaryRequest) { $0.appendVarint(1); $0.appendVarint(value) }
        add(.dictionaries) { $0.appendVarint(value) }
        add(.dictionaries) { $0.appendVarint(1); $0.appendVarint(value); $0.appendBytes([1]) }
        add(.close) { $0.appendVarint(value) }
        add(.announce) { $0.appendVarint(value) }
        return result
    }

    @Test(arguments: huge)
    func messagesWithHugeFieldsAreProtocolViolations(value: UInt64) throws {
        for (kind, payload) in Self.payloads(value) {
            #expect(throws: ReplicationError.self, "\(kind)") { _ = try Message.decode(type: kind.rawValue, payload: payload) }
        }
    }

    @Test func readerHelpersBoundWhatTheyReturn() throws {
        var writer = ByteWriter()
        for value in [UInt64(7), 1 << 63, UInt64.max] { writer.appendVarint(value) }
        var reader = ByteReader(writer.bytes)
        #expect(try reader.count(limit: 10) == 7)
        #expect(throws: StoreError.self) { _ = try reader.count(limit: Int.max) }
        #expect(throws: StoreError.self) { _ = try reader.count(limit: Int.max) }
    }

    /// The campaign's crash, end to end: `serve --stdio` fed such a frame exits non-zero with one
    /// line, and is not killed by a signal.
    @Test(arguments: ["folders", "blocks", "type"])
    func serveRefusesAHugeFieldWithOneLine(field: String) throws {
        let directory = try TemporaryDirectory()
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        var batch = ByteWriter()
        batch.append(1)
        batch.appendBytes(Self.versionsRecord(field, 1 << 63))
        batch.appendVarint(0)
        let input = Message.hello(ServeHostilePeerTests.master).encoded() + Frame.encode(type: Message.Kind.indexBatch.rawValue, payload: batch.bytes)
        let outcome = try ServeRunner.serve(replica: directory.path(for: "replica"), input: input)
        #expect(!outcome.signaled, "serve died by a signal: \(outcome.errors)")
        #expect(outcome.status != 0 && outcome.errorLines.count == 1 && outcome.errorLines[0].hasPrefix("blockvault: "), "\(outcome.errors)")
    }
}
