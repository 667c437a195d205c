import Chunker
import Testing
@testable import Replication
@testable import Store

/// The pure sender, event by event: what it asks the source for, what it sends, and how it fails.
@Suite struct SenderStateMachineTests {
    static let own = Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "aa", receiveOnly: false, protocolVersion: 1)
    static let replica = Message.Hello(deviceID: String(repeating: "b", count: 64), vaultID: "bb", receiveOnly: true, protocolVersion: 3)

    static func version(_ sequence: Int64, blocks: Int = 0, hash: BlockID? = nil) -> (folder: [UInt8], version: FileVersion) {
        var version = FileVersion(path: Array("f\(sequence)".utf8), type: .file, size: Int64(blocks))
        version.sequence = sequence
        version.blockCount = blocks
        version.blockListHash = hash
        return (Array("/src".utf8), version)
    }

    static func snapshot(_ id: String, at sequence: Int64) -> Snapshot {
        Snapshot(id: id, folderPath: Array("/src".utf8), time: 1, host: "h", tags: [], sequence: sequence, files: 0, bytes: 0,
                 partial: false, metadataID: nil)
    }

    static func block(_ seed: UInt8, size: Int) -> Message.StoredBlock {
        Message.StoredBlock(id: SHA256Hasher.hash([seed]), encoding: .raw, rawLength: size, bytes: [UInt8](repeating: seed, count: size))
    }

    /// A sender past the hellos of a version 3 receiver, having announced `highest`.
    static func serving(highest: Int64 = 5) -> SenderSession {
        var session = SenderSession(hello: own)
        _ = session.handle(.received(.hello(replica)))
        _ = session.handle(.highestSequence(highest))
        return session
    }

    @Test func itSaysHelloReadsItsHighestSequenceAndAnnouncesIt() {
        var session = SenderSession(hello: Self.own)
        #expect(session.start() == [.send(.hello(Self.own))])
        #expect(session.handle(.received(.hello(Self.replica))) == [.readHighestSequence])
        #expect(session.state == .readingHighestSequence)
        #expect(session.handle(.highestSequence(42)) == [.send(.announce(highestSequence: 42))])
        #expect(session.state == .serving)
    }

    @Test func anOlderReceiverGetsNoAnnouncement() {
        var session = SenderSession(hello: Self.own)
        var older = Self.replica
        older.protocolVersion = 2
        _ = session.handle(.received(.hello(older)))
        #expect(session.handle(.highestSequence(42)) == [])
    }

    @Test func aPeerThatIsNotReceiveOnlyOrIsItselfIsRefusedAndTold() {
        var session = SenderSession(hello: Self.own)
        let master = Message.Hello(deviceID: String(repeating: "c", count: 64), vaultID: "cc", receiveOnly: false)
        let error = ReplicationError.protocolViolation("the peer vault is not receive-only; push only to replicas made with 'init --receive-only'")
        #expect(session.handle(.received(.hello(master))) == [.send(.close(reason: "\(error)")), .fail(error)])
        #expect(session.isFinished)

        var mirror = SenderSession(hello: Self.own)
        var itself = Self.own
        itself.receiveOnly = true
        #expect(mirror.handle(.received(.hello(itself))).last == .fail(.protocolViolation("the peer is this vault itself")))
    }

    /// Versions above the announcement are cut, with the block lists only they used; the batch is
    /// then the last, and only snapshots up to the announcement go with it.
    @Test func theIndexStopsAtTheAnnouncement() throws {
        var session = Self.serving(highest: 5)
        #expect(session.handle(.received(.indexRequest(after: 3, limit: 100))) == [.readVersions(after: 3, limit: 100)])
        let lists = [MetadataRecord.BlockListRecord(hash: SHA256Hasher.hash([4]), size: 2, ids: []),
                     MetadataRecord.BlockListRecord(hash: SHA256Hasher.hash([6]), size: 2, ids: [])]
        let read = Message.IndexBatch(versions: [Self.version(4, blocks: 2, hash: lists[0].hash), Self.version(5), Self.version(6, blocks: 2, hash: lists[1].hash)],
                                      blockLists: lists, done: false, snapshots: [])
        #expect(session.handle(.versions(read)) == [.readSnapshots])
        let actions = session.handle(.snapshots([Self.snapshot("1", at: 5), Self.snapshot("2", at: 6)]))
        let sent = Message.IndexBatch(versions: [Self.version(4, blocks: 2, hash: lists[0].hash), Self.version(5)], blockLists: [lists[0]],
                                      done: true, snapshots: [Self.snapshot("1", at: 5)])
        #expect(actions == [.send(.indexBatch(sent))])
        #expect(session.state == .serving)
    }

    @Test func aBatchThatIsNotTheLastGoesWithoutSnapshots() {
        var session = Self.serving(highest: 5)
        _ = session.handle(.received(.indexRequest(after: 0, limit: 1)))
        let read = Message.IndexBatch(versions: [Self.version(1)], blockLists: [], done: false, snapshots: [])
        #expect(session.handle(.versions(read)) == [.send(.indexBatch(read))])
    }

    /// Blocks are read one at a time and go out as soon as the next would pass the response budget.
    @Test func blocksAreReadOneAtATimeAndSentWithinTheBudget() {
        var session = Self.serving()
        let half = Message.responseBudget / 2 + 1
        let (a, b, c) = (Self.block(1, size: half), Self.block(2, size: half), Self.block(3, size: 10))
        #expect(session.handle(.received(.blockRequest([a.id, b.id, c.id]))) == [.readBlock(a.id)])
        #expect(session.handle(.block(a)) == [.readBlock(b.id)])
        #expect(session.handle(.block(b)) == [.send(.blockResponse([a])), .readBlock(c.id)])
        #expect(session.handle(.block(c)) == [.send(.blockResponse([b, c]))])
        #expect(session.blocksSent == 3 && session.state == .serving)
    }

    @Test func dictionariesAreReadByIDForVersion3AndByExclusionForVersion2() {
        var session = Self.serving()
        #expect(session.handle(.received(.dictionaryRequest(ids: [7]))) == [.readDictionaries(ids: [7])])
        let seven = Message.StoredDictionary(id: 7, bytes: [1])
        #expect(session.handle(.dictionaries([seven])) == [.send(.dictionaries([seven]))])

        let tooMany = Array(UInt32(1)...UInt32(Message.dictionaryLimit + 1))
        #expect(session.handle(.received(.dictionaryRequest(ids: tooMany))).last
                == .fail(.protocolViolation("a request for \(tooMany.count) dictionaries (at most \(Message.dictionaryLimit))")))

        var older = SenderSession(hello: Self.own)
        var hello = Self.replica
        hello.protocolVersion = 2
        _ = older.handle(.received(.hello(hello)))
        _ = older.handle(.highestSequence(1))
        #expect(older.handle(.received(.dictionaryRequest(ids: [3]))) == [.readDictionariesExcept([3])])
        let many = (1...20).map { Message.StoredDictionary(id: UInt32($0), bytes: [1]) }
        #expect(older.handle(.dictionaries(many)) == [.send(.dictionaries(Array(many.prefix(Message.dictionaryLimit))))])
    }

    @Test func aCloseMidwayEndsTheSessionWithoutAnswering() {
        var failing = Self.serving()
        _ = failing.handle(.received(.blockRequest([SHA256Hasher.hash([1])])))
        #expect(failing.handle(.received(.close(reason: "no space left"))) == [.fail(.peerFailed("no space left"))])
        #expect(failing.isFinished)

        var done = Self.serving()
        #expect(done.handle(.received(.close(reason: ""))) == [.finish])
        #expect(done.isFinished)
    }

    @Test func anUnexpectedMessageOrAnswerIsAViolation() {
        var session = Self.serving()
        let error = ReplicationError.protocolViolation("unexpected block response while serving")
        #expect(session.handle(.received(.blockResponse([]))) == [.send(.close(reason: "\(error)")), .fail(error)])

        var early = SenderSession(hello: Self.own)
        #expect(early.handle(.received(.indexRequest(after: 0, limit: 1))).last
                == .fail(.protocolViolation("unexpected index request while awaitingHello")))

        var confused = Self.serving()
        #expect(confused.handle(.block(Self.block(1, size: 1))).last
                == .fail(.protocolViolation("an answer from the vault that nothing asked for while serving")))
    }
}
