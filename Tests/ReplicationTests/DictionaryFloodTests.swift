import Chunker
import Foundation
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// A replica takes a zstd dictionary only when a block it asked for needs it, and only once that
/// block decodes with it: a peer cannot fill it with dictionaries (past 4096 it refused every push).
@Suite struct DictionaryFloodTests {
    /// `count` valid zstd dictionaries that no block uses: the master's, under other IDs.
    static func junk(from dictionary: ZstdDictionary, count: Int) throws -> [Message.StoredDictionary] {
        try (0..<count).map { index in
            var bytes = dictionary.bytes
            let id = UInt32(0x7000_0000 + index)
            for byte in 0..<4 { bytes[4 + byte] = UInt8(truncatingIfNeeded: id >> (8 * UInt32(byte))) }
            let made = try ZstdDictionary(bytes: bytes)
            #expect(made.id == id)
            return Message.StoredDictionary(id: id, bytes: bytes)
        }
    }

    @Test func dictionariesNobodyAskedForAreRefusedAndNoneIsStored() throws {
        let pair = try DictionaryPair()
        let junk = try Self.junk(from: try #require(pair.master.dictionaries.all.first), count: 32)
        let hello = Message.hello(Message.Hello(deviceID: pair.master.configuration.deviceID, vaultID: pair.master.configuration.vaultID,
                                                receiveOnly: false, protocolVersion: 2))
        let input = hello.encoded() + Message.dictionaries(Array(junk.prefix(16))).encoded()
            + Message.dictionaries(Array(junk.suffix(16))).encoded() + ServeRunner.batch(sequence: 1)
        let outcome = try ServeRunner.serve(replica: pair.directory.path(for: "replica"), input: input)
        #expect(outcome.status != 0 && !outcome.signaled, "\(outcome.errors)")
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(replica.dictionaries.all.isEmpty, "junk dictionaries were stored")
        #expect(try replica.storage.packNames().isEmpty)
    }

    /// A sender that answers a dictionary request with what was asked plus junk: refused whole.
    @Test func aReplyWithMoreDictionariesThanAskedIsRefused() throws {
        let pair = try DictionaryPair()
        let junk = try Self.junk(from: try #require(pair.master.dictionaries.all.first), count: 3)
        let sender = SenderDriver(source: PaddingSource(VaultSource(vault: pair.master), junk: junk))
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        #expect(pump(sender, receiver) != nil)
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(replica.dictionaries.all.isEmpty)
        #expect(try replica.catalog.snapshots().isEmpty)
    }

    /// The real thing: the replica asks for exactly the dictionary its blocks need, once.
    @Test func aMasterWithADictionaryReplicatesItOnceAndOnlyIt() throws {
        let pair = try DictionaryPair()
        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        #expect(pump(sender, receiver) == nil)
        #expect(receiver.dictionariesReceived == 1)
        #expect(try Vault(path: pair.directory.path(for: "replica")).dictionaries.all.map(\.id) == pair.master.dictionaries.all.map(\.id))
    }
}

/// A source that adds dictionaries no block uses to every answer.
final class PaddingSource: ReplicationSource {
    let inner: VaultSource
    let junk: [Message.StoredDictionary]
    init(_ inner: VaultSource, junk: [Message.StoredDictionary]) {
        self.inner = inner
        self.junk = junk
    }
    var hello: Message.Hello { inner.hello }
    func highestSequence() throws -> Int64 { try inner.highestSequence() }
    func versions(after: Int64, limit: Int) throws -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], done: Bool) {
        try inner.versions(after: after, limit: limit)
    }
    func snapshots() throws -> [Snapshot] { try inner.snapshots() }
    func storedBlock(_ id: BlockID) throws -> Message.StoredBlock { try inner.storedBlock(id) }
    func dictionaries(excluding: Set<UInt32>) throws -> [Message.StoredDictionary] { try inner.dictionaries(excluding: excluding) + junk }
    func dictionaries(ids: [UInt32]) throws -> [Message.StoredDictionary] { try inner.dictionaries(ids: ids) + junk }
}
