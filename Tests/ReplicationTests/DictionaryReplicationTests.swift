import Chunker
import Testing
import TestSupport
@testable import Replication
@testable import Store

/// A master whose first backup trained a zstd dictionary (small files alike), and an empty replica.
struct DictionaryPair {
    let directory: TemporaryDirectory
    let master: Vault
    let replica: Vault

    init() throws {
        directory = try TemporaryDirectory()
        try directory.makeDirectory("src")
        let header = DeterministicData.textLikeBytes(count: 1500, seed: 4242)
        for index in 0..<700 {
            try directory.write(header + DeterministicData.textLikeBytes(count: 2500 + index, seed: UInt64(index)), to: "src/\(index).txt")
        }
        try Vault.create(at: directory.path(for: "master"))
        try Vault.create(at: directory.path(for: "replica"), receiveOnly: true)
        _ = try Backup(vault: try Vault(path: directory.path(for: "master"))).run(directory: directory.path(for: "src"))
        master = try Vault(path: directory.path(for: "master"))
        replica = try Vault(path: directory.path(for: "replica"))
    }
}

/// Protocol 2: a sender whose vault has dictionaries says so in its hello. Since protocol 3 the
/// receiver asks for one only when a block it received needs it, and stores it durably first.
@Suite struct DictionaryReplicationTests {
    @Test func theReplicaStoresTheDictionaryBeforeTheBlocksAndRestores() throws {
        let pair = try DictionaryPair()
        let dictionary = try #require(pair.master.dictionaries.all.first)
        #expect(try pair.master.catalog.database.scalar("SELECT count(*) FROM blocks WHERE encoding = 2") ?? 0 > 0)
        #expect(VaultSource(vault: pair.master).hello.protocolVersion == 2)
        do {
            let sender = SenderDriver(source: VaultSource(vault: pair.master))
            let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
            #expect(pump(sender, receiver) == nil)
            #expect(receiver.dictionariesReceived == 1)
        }
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(replica.dictionaries.all.map(\.bytes) == [dictionary.bytes])
        #expect(replica.configuration.format == 2)
        let (folder, snapshot) = try #require(try replica.catalog.snapshots().last)
        _ = try Restorer(vault: replica).run(snapshot: snapshot, folder: folder, target: pair.directory.path(for: "restored"))
        #expect(try FileSystem.readFile(pair.directory.path(for: "restored/7.txt")) == FileSystem.readFile(pair.directory.path(for: "src/7.txt")))
        #expect(try Checker(vault: replica, options: { var options = CheckOptions(); options.readData = true; return options }()).run().problems.isEmpty)

        // The next exchange names the dictionary the replica holds: none is sent again.
        let again = SenderDriver(source: VaultSource(vault: pair.master))
        let receiverAgain = ReceiverDriver(sink: try VaultSink(vault: replica))
        #expect(pump(again, receiverAgain) == nil)
        #expect(receiverAgain.dictionariesReceived == 0 && again.blocksSent == 0)
    }

    /// Nothing is asked for up front: after the hellos and the announcement the receiver asks for
    /// the index; the first dictionary request names exactly the dictionary a received block needs.
    @Test func aReceiverAsksForADictionaryOnlyWhenABlockNeedsIt() throws {
        let pair = try DictionaryPair()
        let dictionary = try #require(pair.master.dictionaries.all.first)
        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        let receiverHello = try receiver.start()
        #expect(try receiver.handle(.hello(VaultSource(vault: pair.master).hello)) == [])
        let announcement = try sender.handle(receiverHello[0])
        #expect(announcement == [.announce(highestSequence: try pair.master.catalog.maximumSequence())])
        var toSender = try receiver.handle(announcement[0])
        #expect(toSender == [.indexRequest(after: 0, limit: Message.batchLimit)])
        var requests: [[UInt32]] = []
        while !toSender.isEmpty && !receiver.isFinished {
            var next: [Message] = []
            for message in toSender {
                if case .dictionaryRequest(let ids) = message { requests.append(ids) }
                for reply in try sender.handle(message) { next += try receiver.handle(reply) }
            }
            toSender = next
        }
        #expect(receiver.isFinished)
        #expect(requests == [[dictionary.id]])
    }

    /// A sender of this build still answers a receiver that speaks version 2 (it names the
    /// dictionaries it holds and takes the others, up front).
    @Test func aSenderAnswersAVersion2Receiver() throws {
        let pair = try DictionaryPair()
        let dictionary = try #require(pair.master.dictionaries.all.first)
        let sender = SenderDriver(source: VaultSource(vault: pair.master))
        let older = Message.Hello(deviceID: String(repeating: "c", count: 64), vaultID: "d", receiveOnly: true, protocolVersion: 2)
        #expect(try sender.handle(.hello(older)) == [])
        #expect(try sender.handle(.dictionaryRequest(ids: [])) == [.dictionaries([Message.StoredDictionary(id: dictionary.id, bytes: dictionary.bytes)])])
        #expect(try sender.handle(.dictionaryRequest(ids: [dictionary.id])) == [.dictionaries([])])
    }

    /// Each lie is refused before anything is stored: no dictionary, no pack, and the config stays at format 1.
    @Test(arguments: ["not a dictionary", "another id", "sent twice", "not the block's"])
    func aLyingSenderOfDictionariesIsRefused(lie: String) throws {
        let pair = try DictionaryPair()
        let real = try #require(pair.master.dictionaries.all.first)
        let source = DictionaryLiar(VaultSource(vault: pair.master)) { dictionaries in
            guard var sent = dictionaries.first else { return dictionaries }
            switch lie {
            case "not a dictionary": sent.bytes = DeterministicData.randomBytes(count: 4096, seed: 1)
            case "another id": sent.id = real.id &+ 1
            case "sent twice": return [sent, sent]
            default:   // a valid dictionary under the asked ID, but not the one the blocks were made with
                let other = try DictionaryFloodTests.junk(from: real, count: 1)[0]
                sent.bytes = other.bytes
                for byte in 0..<4 { sent.bytes[4 + byte] = UInt8(truncatingIfNeeded: real.id >> (8 * UInt32(byte))) }
                for index in (sent.bytes.count / 2)..<sent.bytes.count { sent.bytes[index] ^= 0x5A }
            }
            return [sent]
        }
        let sender = SenderDriver(source: source)
        let receiver = ReceiverDriver(sink: try VaultSink(vault: pair.replica))
        #expect(pump(sender, receiver) != nil)
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(replica.dictionaries.all.isEmpty)
        #expect(try replica.catalog.snapshots().isEmpty)
        #expect(try Vault.readConfiguration(at: pair.directory.path(for: "replica")).format == 1)
    }

    @Test func dictionaryMessagesRoundTripAndAreBounded() throws {
        func wire(_ message: Message) throws -> Message {
            var decoder = FrameDecoder()
            decoder.append(message.encoded()[...])
            let (type, payload) = try #require(try decoder.next())
            return try Message.decode(type: type, payload: payload)
        }
        let messages: [Message] = [.dictionaryRequest(ids: [1, 4_000_000_000]),
                                   .dictionaries([Message.StoredDictionary(id: 7, bytes: [1, 2, 3])]),
                                   .hello(Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "b", receiveOnly: true, protocolVersion: 2))]
        for message in messages { #expect(try wire(message) == message) }
        let many = Message.dictionaries(Array(repeating: Message.StoredDictionary(id: 7, bytes: [1]), count: Message.dictionaryLimit + 1))
        #expect(throws: ReplicationError.self) { _ = try wire(many) }
        #expect(throws: ReplicationError.self) { _ = try wire(.dictionaryRequest(ids: [0])) }
        let future = Message.hello(Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "b", receiveOnly: true, protocolVersion: Message.protocolVersion + 1))
        #expect(throws: ReplicationError.self) { _ = try wire(future) }
    }
}

/// A source that changes the dictionaries it sends.
final class DictionaryLiar: ReplicationSource {
    let inner: VaultSource
    let tamper: ([Message.StoredDictionary]) throws -> [Message.StoredDictionary]
    init(_ inner: VaultSource, tamper: @escaping ([Message.StoredDictionary]) throws -> [Message.StoredDictionary]) {
        self.inner = inner
        self.tamper = tamper
    }
    var hello: Message.Hello { inner.hello }
    func highestSequence() throws -> Int64 { try inner.highestSequence() }
    func versions(after: Int64, limit: Int) throws -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], done: Bool) {
        try inner.versions(after: after, limit: limit)
    }
    func snapshots() throws -> [Snapshot] { try inner.snapshots() }
    func storedBlock(_ id: BlockID) throws -> Message.StoredBlock { try inner.storedBlock(id) }
    func dictionaries(excluding: Set<UInt32>) throws -> [Message.StoredDictionary] { try tamper(inner.dictionaries(excluding: excluding)) }
    func dictionaries(ids: [UInt32]) throws -> [Message.StoredDictionary] { try tamper(inner.dictionaries(ids: ids)) }
}
