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

/// Protocol 2: a sender whose vault has dictionaries says so in its hello; the receiver asks for the
/// ones it lacks before any block, and stores them durably first.
@Suite struct DictionaryReplicationTests {
    @Test func theReplicaStoresTheDictionaryBeforeTheBlocksAndRestores() throws {
        let pair = try DictionaryPair()
        let dictionary = try #require(pair.master.dictionaries.all.first)
        #expect(try pair.master.catalog.database.scalar("SELECT count(*) FROM blocks WHERE encoding = 2") ?? 0 > 0)
        #expect(VaultSource(vault: pair.master).hello.protocolVersion == 2)
        do {
            var sender = SenderSession(source: VaultSource(vault: pair.master))
            var receiver = ReceiverSession(sink: try VaultSink(vault: pair.replica))
            #expect(pump(&sender, &receiver) == nil)
            #expect(receiver.dictionariesReceived == 1)
        }
        let replica = try Vault(path: pair.directory.path(for: "replica"))
        #expect(replica.dictionaries.all.map(\.bytes) == [dictionary.bytes])
        #expect(replica.configuration.format == 2)
        let (folder, snapshot) = try #require(try replica.catalog.snapshots().last)
        _ = try Restorer(vault: replica).restore(snapshot: snapshot, folder: folder, target: pair.directory.path(for: "restored"))
        #expect(try FileSystem.readFile(pair.directory.path(for: "restored/7.txt")) == FileSystem.readFile(pair.directory.path(for: "src/7.txt")))
        #expect(try Checker(vault: replica).run({ var options = CheckOptions(); options.readData = true; return options }()).problems.isEmpty)

        // The next exchange names the dictionary the replica holds: none is sent again.
        var again = SenderSession(source: VaultSource(vault: pair.master))
        var receiverAgain = ReceiverSession(sink: try VaultSink(vault: replica))
        #expect(pump(&again, &receiverAgain) == nil)
        #expect(receiverAgain.dictionariesReceived == 0 && again.blocksSent == 0)
    }

    @Test func aReceiverAsksForDictionariesOnlyFromASenderThatAnnouncesThem() throws {
        let pair = try DictionaryPair()
        var hello = VaultSource(vault: pair.master).hello
        do {   // the sink holds the replica's write lock until it goes
            var receiver = ReceiverSession(sink: try VaultSink(vault: pair.replica))
            _ = receiver.start()
            #expect(try receiver.handle(.hello(hello)) == [.dictionaryRequest(have: [])])
        }
        var older = ReceiverSession(sink: try VaultSink(vault: try Vault(path: pair.directory.path(for: "replica"))))
        _ = older.start()
        hello.protocolVersion = 1
        #expect(try older.handle(.hello(hello)) == [.indexRequest(after: 0, limit: Message.batchLimit)])
    }

    /// Each lie is refused before anything is stored: no dictionary, no pack, and the config stays at format 1.
    @Test(arguments: ["not a dictionary", "another id", "not asked for"])
    func aLyingSenderOfDictionariesIsRefused(lie: String) throws {
        let pair = try DictionaryPair()
        let real = try #require(pair.master.dictionaries.all.first)
        var receiver = ReceiverSession(sink: try VaultSink(vault: pair.replica))
        _ = receiver.start()
        _ = try receiver.handle(.hello(VaultSource(vault: pair.master).hello))
        var sent = Message.StoredDictionary(id: real.id, bytes: real.bytes)
        switch lie {
        case "not a dictionary": sent.bytes = DeterministicData.randomBytes(count: 4096, seed: 1)
        case "another id": sent.id = real.id &+ 1
        default: break
        }
        let message: Message = lie == "not asked for" ? .dictionaries([sent, sent]) : .dictionaries([sent])
        #expect(throws: (any Error).self) { _ = try receiver.handle(message) }
        if lie != "not asked for" {
            #expect(try pair.replica.storage.list().isEmpty)
            #expect(try Vault.readConfiguration(at: pair.directory.path(for: "replica")).format == 1)
        }
    }

    @Test func dictionaryMessagesRoundTripAndAreBounded() throws {
        func wire(_ message: Message) throws -> Message {
            var decoder = FrameDecoder()
            decoder.append(message.encoded()[...])
            let (type, payload) = try #require(try decoder.next())
            return try Message.decode(type: type, payload: payload)
        }
        let messages: [Message] = [.dictionaryRequest(have: [1, 4_000_000_000]),
                                   .dictionaries([Message.StoredDictionary(id: 7, bytes: [1, 2, 3])]),
                                   .hello(Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "b", receiveOnly: true, protocolVersion: 2))]
        for message in messages { #expect(try wire(message) == message) }
        let many = Message.dictionaries(Array(repeating: Message.StoredDictionary(id: 7, bytes: [1]), count: Message.dictionaryLimit + 1))
        #expect(throws: ReplicationError.self) { _ = try wire(many) }
        #expect(throws: ReplicationError.self) { _ = try wire(.dictionaryRequest(have: [0])) }
        let future = Message.hello(Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "b", receiveOnly: true, protocolVersion: 3))
        #expect(throws: ReplicationError.self) { _ = try wire(future) }
    }
}
