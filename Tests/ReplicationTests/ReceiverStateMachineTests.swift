import Chunker
import Testing
@testable import Replication
@testable import Store

/// The pure receiver, event by event: what it asks the sink and the sender for, and each lie it
/// refuses (with a close that tells the peer why) before anything of it is stored or recorded.
@Suite struct ReceiverStateMachineTests {
    static let own = Message.Hello(deviceID: String(repeating: "b", count: 64), vaultID: "bb", receiveOnly: true, protocolVersion: 3)
    static let master = Message.Hello(deviceID: String(repeating: "a", count: 64), vaultID: "aa", receiveOnly: false, protocolVersion: 1)

    static func version(_ sequence: Int64, blocks: Int = 0) -> (folder: [UInt8], version: FileVersion) {
        SenderStateMachineTests.version(sequence, blocks: blocks, hash: blocks > 0 ? SHA256Hasher.hash([UInt8(sequence)]) : nil)
    }

    static func batch(_ sequences: [Int64], done: Bool = true, snapshots: [Snapshot] = []) -> Message.IndexBatch {
        Message.IndexBatch(versions: sequences.map { version($0, blocks: 1) }, blockLists: [], done: done, snapshots: snapshots)
    }

    static func block(_ seed: UInt8, encoding: PackFormat.Encoding = .raw) -> Message.StoredBlock {
        Message.StoredBlock(id: SHA256Hasher.hash([seed]), encoding: encoding, rawLength: 3, bytes: [seed, seed, seed])
    }

    /// A receiver that has recorded `recorded`, past the announcement of `announced`, awaiting the index.
    static func awaitingIndex(recorded: Int64 = 0, announced: Int64) -> ReceiverSession {
        var session = ReceiverSession(hello: own)
        _ = session.handle(.received(.hello(master)))
        _ = session.handle(.accepted(recordedSequence: recorded))
        _ = session.handle(.received(.announce(highestSequence: announced)))
        return session
    }

    static func refusal(_ why: String) -> [ReceiverSession.Action] {
        let error = ReplicationError.protocolViolation(why)
        return [.send(.close(reason: "\(error)")), .fail(error)]
    }

    @Test func aWholeExchangeStepByStep() {
        var session = ReceiverSession(hello: Self.own)
        #expect(session.start() == [.send(.hello(Self.own))])
        #expect(session.handle(.received(.hello(Self.master))) == [.accept(Self.master)])
        #expect(session.handle(.accepted(recordedSequence: 0)) == [])
        #expect(session.handle(.received(.announce(highestSequence: 2))) == [.send(.indexRequest(after: 0, limit: Message.batchLimit))])
        let snapshot = SenderStateMachineTests.snapshot("s", at: 2)
        let batch = Self.batch([1, 2], snapshots: [snapshot])
        #expect(session.handle(.received(.indexBatch(batch))) == [.findMissingBlocks(batch)])
        let (a, b) = (Self.block(1), Self.block(2))
        #expect(session.handle(.missingBlocks([a.id, b.id])) == [.send(.blockRequest([a.id, b.id]))])
        #expect(session.handle(.received(.blockResponse([a, b]))) == [.store(a), .store(b)])
        #expect(session.handle(.stored(a.id, bytes: 3)) == [], "nothing is recorded before every block is stored")
        #expect(session.handle(.stored(b.id, bytes: 3)) == [.record(batch, masterDevice: Self.master.deviceID)])
        #expect(session.handle(.recorded) == [.recordSnapshots([snapshot])])
        #expect(session.handle(.snapshotsRecorded(added: 1, skipped: [])) == [.send(.close(reason: "")), .finish])
        #expect(session.isFinished)
        #expect(session.blocksReceived == 2 && session.bytesReceived == 6 && session.versionsRecorded == 2 && session.snapshotsAdded == 1)
    }

    @Test func batchesFollowOneAnotherAndRequestsAreCutAtTheLimit() {
        var session = Self.awaitingIndex(announced: 3)
        let first = Self.batch([1, 2], done: false)
        _ = session.handle(.received(.indexBatch(first)))
        let ids = (0..<(Message.requestLimit + 3)).map { SHA256Hasher.hash(withUnsafeBytes(of: $0) { Array($0) }) }
        #expect(session.handle(.missingBlocks(ids)) == [.send(.blockRequest(Array(ids.prefix(Message.requestLimit))))])
        let blocks = ids.prefix(Message.requestLimit).map { Message.StoredBlock(id: $0, encoding: .raw, rawLength: 1, bytes: [1]) }
        _ = session.handle(.received(.blockResponse(blocks)))
        var last: [ReceiverSession.Action] = []
        for block in blocks { last = session.handle(.stored(block.id, bytes: 1)) }
        #expect(last == [.send(.blockRequest(Array(ids.suffix(3))))])
        let rest = ids.suffix(3).map { Message.StoredBlock(id: $0, encoding: .raw, rawLength: 1, bytes: [1]) }
        _ = session.handle(.received(.blockResponse(rest)))
        for block in rest { last = session.handle(.stored(block.id, bytes: 1)) }
        #expect(last == [.record(first, masterDevice: Self.master.deviceID)])
        #expect(session.handle(.recorded) == [.send(.indexRequest(after: 2, limit: Message.batchLimit))])
    }

    @Test func aVersionAboveTheAnnouncementIsRefused() {
        var session = Self.awaitingIndex(announced: 2)
        #expect(session.handle(.received(.indexBatch(Self.batch([1, 3])))) == Self.refusal("version at sequence 3, beyond the 2 the peer announced"))
        #expect(session.isFinished)
    }

    @Test func anIndexThatStopsShortOrGoesBackIsRefused() {
        var short = Self.awaitingIndex(announced: 5)
        #expect(short.handle(.received(.indexBatch(Self.batch([1, 2])))) == Self.refusal("the peer announced sequence 5, but its index ends at 2"))
        var backwards = Self.awaitingIndex(recorded: 2, announced: 5)
        #expect(backwards.handle(.received(.indexBatch(Self.batch([2, 5])))) == Self.refusal("index batch out of order at sequence 2"))
    }

    @Test func anEmptyBatchThatIsNotTheLastIsRefused() {
        var session = Self.awaitingIndex(announced: 5)
        let empty = Message.IndexBatch(versions: [], blockLists: [], done: false, snapshots: [])
        _ = session.handle(.received(.indexBatch(empty)))
        #expect(session.handle(.missingBlocks([])) == [.record(empty, masterDevice: Self.master.deviceID)])
        #expect(session.handle(.recorded) == Self.refusal("an empty index batch that is not the last"))
    }

    @Test func aHistoryBehindWhatTheReplicaRecordedHasDiverged() throws {
        var session = ReceiverSession(hello: Self.own)
        _ = session.handle(.received(.hello(Self.master)))
        _ = session.handle(.accepted(recordedSequence: 10))
        let actions = session.handle(.received(.announce(highestSequence: 4)))
        guard case .fail(.diverged(let why)) = try #require(actions.last) else { Issue.record("\(actions)"); return }
        #expect(why.contains("up to sequence 10") && why.contains("ends at 4") && why.contains("init --receive-only"))
        #expect(actions.first == .send(.close(reason: why)))
    }

    @Test func aReceiveOnlyPeerHasNothingToSend() {
        var session = ReceiverSession(hello: Self.own)
        #expect(session.handle(.received(.hello(Self.own))) == Self.refusal("the peer is a receive-only vault and has nothing to send"))
    }

    /// A response is checked whole: one block nobody asked for (or one sent twice) and none is stored.
    @Test(arguments: ["not asked", "twice"])
    func aBlockNobodyAskedForIsRefusedBeforeAnyIsStored(lie: String) {
        var session = Self.awaitingIndex(announced: 1)
        _ = session.handle(.received(.indexBatch(Self.batch([1]))))
        let (a, b) = (Self.block(1), Self.block(2))
        _ = session.handle(.missingBlocks([a.id]))
        let response = lie == "twice" ? [a, a] : [a, b]
        let refused = lie == "twice" ? a.id : b.id
        #expect(session.handle(.received(.blockResponse(response))) == Self.refusal("block \(refused) was not requested"))
    }

    /// A block that needs a dictionary the sink lacks waits; the dictionary is asked for once the
    /// response is stored, and stored before the block.
    @Test func aBlockWaitsForItsDictionaryWhichIsStoredFirst() {
        var session = Self.awaitingIndex(announced: 1)
        let batch = Self.batch([1])
        _ = session.handle(.received(.indexBatch(batch)))
        let (plain, compressed) = (Self.block(1), Self.block(2, encoding: .zstdDictionary))
        _ = session.handle(.missingBlocks([plain.id, compressed.id]))
        #expect(session.handle(.received(.blockResponse([compressed, plain]))) == [.store(compressed), .store(plain)])
        #expect(session.handle(.lacksDictionary(7, compressed)) == [])
        #expect(session.handle(.stored(plain.id, bytes: 3)) == [.send(.dictionaryRequest(ids: [7]))])
        let seven = Message.StoredDictionary(id: 7, bytes: [7])
        #expect(session.handle(.received(.dictionaries([seven]))) == [.storeDictionary(seven, neededBy: compressed), .store(compressed)])
        #expect(session.handle(.dictionaryStored(7)) == [])
        #expect(session.handle(.stored(compressed.id, bytes: 3)) == [.record(batch, masterDevice: Self.master.deviceID)])
        #expect(session.dictionariesReceived == 1 && session.blocksReceived == 2)
    }

    /// Dictionaries are taken only as an answer to the request, exactly the ones asked for.
    @Test(arguments: ["not asked", "missing", "twice", "out of turn"])
    func aDictionaryOutOfOrderIsRefused(lie: String) {
        var session = Self.awaitingIndex(announced: 1)
        _ = session.handle(.received(.indexBatch(Self.batch([1]))))
        let compressed = Self.block(2, encoding: .zstdDictionary)
        if lie == "out of turn" {
            #expect(session.handle(.received(.dictionaries([Message.StoredDictionary(id: 7, bytes: [7])])))
                    == Self.refusal("unexpected dictionaries while findingBlocks"))
            return
        }
        _ = session.handle(.missingBlocks([compressed.id]))
        _ = session.handle(.received(.blockResponse([compressed])))
        #expect(session.handle(.lacksDictionary(7, compressed)) == [.send(.dictionaryRequest(ids: [7]))])
        let seven = Message.StoredDictionary(id: 7, bytes: [7])
        switch lie {
        case "not asked":
            #expect(session.handle(.received(.dictionaries([Message.StoredDictionary(id: 8, bytes: [8]), seven])))
                    == Self.refusal("zstd dictionary 8 was not asked for"))
        case "missing":
            #expect(session.handle(.received(.dictionaries([]))) == Self.refusal("block \(compressed.id) needs zstd dictionary 7, which the peer did not send"))
        default:
            #expect(session.handle(.received(.dictionaries([seven, seven]))) == Self.refusal("zstd dictionary 7 was not asked for"))
        }
    }

    @Test func snapshotsAboveTheAnnouncementAreSkippedAndNamed() {
        var session = Self.awaitingIndex(announced: 1)
        let (kept, beyond) = (SenderStateMachineTests.snapshot("k", at: 1), SenderStateMachineTests.snapshot("b", at: 9))
        let batch = Self.batch([1], snapshots: [kept, beyond])
        _ = session.handle(.received(.indexBatch(batch)))
        _ = session.handle(.missingBlocks([]))
        #expect(session.handle(.recorded) == [.recordSnapshots([kept])])
        _ = session.handle(.snapshotsRecorded(added: 0, skipped: ["k: forgotten on this replica"]))
        #expect(session.snapshotsSkipped == ["b: at sequence 9, beyond the 1 the peer announced", "k: forgotten on this replica"])
    }

    @Test func aCloseMidwayEndsTheSession() {
        var failing = Self.awaitingIndex(announced: 1)
        _ = failing.handle(.received(.indexBatch(Self.batch([1]))))
        _ = failing.handle(.missingBlocks([Self.block(1).id]))
        #expect(failing.handle(.received(.close(reason: "disk full"))) == [.fail(.peerFailed("disk full"))])
        #expect(failing.isFinished)
        #expect(failing.handle(.stored(Self.block(1).id, bytes: 3)).last
                == .fail(.protocolViolation("an answer from the vault that nothing asked for while finished")))
    }

    /// The driver answers each action once: an answer to a store nobody asked for is refused.
    @Test func anAnswerNothingAskedForIsRefused() {
        var session = Self.awaitingIndex(announced: 1)
        _ = session.handle(.received(.indexBatch(Self.batch([1]))))
        let a = Self.block(1)
        _ = session.handle(.missingBlocks([a.id]))
        #expect(session.handle(.stored(a.id, bytes: 3)) == Self.refusal("an answer from the vault that nothing asked for while awaitingBlocks"))
        #expect(session.blocksReceived == 0)
    }

    @Test func aMessageOutOfTurnIsRefused() {
        var session = ReceiverSession(hello: Self.own)
        _ = session.handle(.received(.hello(Self.master)))
        _ = session.handle(.accepted(recordedSequence: 0))
        #expect(session.handle(.received(.blockResponse([Self.block(1)]))) == Self.refusal("unexpected block response while awaitingAnnouncement"))
    }
}
