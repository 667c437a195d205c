import Chunker
import Store

/// The receiving side as a pure state machine, which drives the exchange and never touches the
/// vault: it takes the sender's announcement of its highest sequence, asks for the sender's index
/// after what it has, has the sink find its need (blocks of those versions that it lacks), asks for
/// exactly those, and has each batch recorded once its blocks are stored. A block that names a
/// zstd dictionary the sink lacks waits until the blocks asked for with it have arrived; then
/// exactly the dictionaries such blocks need are asked for, each stored (checked against a block
/// that needs it) before the blocks that wait for it. Events in, actions out; `ReceiverDriver`
/// performs them.
///
/// Contract with the driver: each action other than `send`, `finish` and `fail` is answered by
/// exactly one event, in the order the actions were returned, before the next message is fed. Each
/// request goes out only when the answer to the one before is complete and stored, so neither side
/// writes while the other is writing.
public struct ReceiverSession: Sendable {
    public enum State: Equatable, Sendable {
        case awaitingHello, acceptingPeer, awaitingAnnouncement, awaitingIndex, findingBlocks, awaitingBlocks,
             awaitingDictionaries, recording, recordingSnapshots, finished
    }

    /// What happened: a message from the sender, or the sink's answer to an action.
    public enum Event: Equatable, Sendable {
        case received(Message)
        /// Answers `.accept`: the sink takes this peer's history, recorded up to this sequence.
        case accepted(recordedSequence: Int64)
        /// Answers `.findMissingBlocks`: the blocks of the batch's versions the sink lacks, each once,
        /// in the order the versions need them.
        case missingBlocks([BlockID])
        /// Answers `.store`: the block is stored (its stored size in bytes).
        case stored(BlockID, bytes: Int)
        /// Answers `.store`: nothing was stored, the block needs zstd dictionary `id`, which the sink lacks.
        case lacksDictionary(UInt32, Message.StoredBlock)
        /// Answers `.storeDictionary`.
        case dictionaryStored(UInt32)
        /// Answers `.record`.
        case recorded
        /// Answers `.recordSnapshots`: how many were new, and each refused one as "ID: why".
        case snapshotsRecorded(added: Int, skipped: [String])
    }

    /// What to do, in order.
    public enum Action: Equatable, Sendable {
        case send(Message)
        /// Check that the sink may take this peer's history and say up to where it has it.
        case accept(Message.Hello)
        case findMissingBlocks(Message.IndexBatch)
        /// Verify and store a block, unless it needs a zstd dictionary the sink lacks.
        case store(Message.StoredBlock)
        /// Check a dictionary against a block that needs it and store it durably.
        case storeDictionary(Message.StoredDictionary, neededBy: Message.StoredBlock)
        /// Record the batch's versions (their blocks are all stored).
        case record(Message.IndexBatch, masterDevice: String)
        case recordSnapshots([Snapshot])
        /// Everything the sender announced is recorded, and the close has been sent.
        case finish
        /// The exchange failed; a close saying why precedes this when the peer should hear it.
        case fail(ReplicationError)
    }

    public private(set) var state = State.awaitingHello
    public private(set) var dictionariesReceived = 0
    public private(set) var blocksReceived = 0
    public private(set) var bytesReceived: Int64 = 0
    public private(set) var versionsRecorded = 0
    public private(set) var snapshotsAdded = 0
    /// The snapshots the sender offered that were not recorded, each as "ID: why".
    public private(set) var snapshotsSkipped: [String] = []
    /// This side's hello.
    public let hello: Message.Hello
    private var masterDevice = ""
    /// The highest sequence the sender announced: nothing above it is taken.
    private var announced: Int64 = 0
    private var lastSequence: Int64 = 0
    private var batch: Message.IndexBatch?
    private var toRequest: ArraySlice<BlockID> = []
    /// Blocks asked for and not yet received.
    private var outstanding = Set<BlockID>()
    /// Stores (of blocks and dictionaries) handed to the driver and not yet answered.
    private var unanswered = 0
    /// Blocks received that need a zstd dictionary the sink lacks, by that dictionary's ID.
    private var waiting: [UInt32: [Message.StoredBlock]] = [:]
    /// The dictionary IDs named in the request in flight.
    private var asked: [UInt32] = []
    /// The dictionaries stored in this exchange: a block that still lacks one is the sink's fault.
    private var storedDictionaries = Set<UInt32>()

    public init(hello: Message.Hello) { self.hello = hello }

    public var isFinished: Bool { state == .finished }

    /// The actions to take first.
    public func start() -> [Action] { [.send(.hello(hello))] }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.awaitingHello, .received(.hello(let peer))):
            guard !peer.receiveOnly else { return fail(.protocolViolation("the peer is a receive-only vault and has nothing to send")) }
            masterDevice = peer.deviceID
            state = .acceptingPeer
            return [.accept(peer)]
        case (.acceptingPeer, .accepted(let recorded)):
            lastSequence = recorded
            state = .awaitingAnnouncement
            return []
        case (.awaitingAnnouncement, .received(.announce(let highest))):
            guard highest >= lastSequence else {
                return fail(.diverged("""
                    this replica holds versions of device \(masterDevice.prefix(16)) up to sequence \(lastSequence), but that device's \
                    history ends at \(highest): another peer sent versions in its name, so the replica's history diverged from the \
                    device's; make a new replica with 'blockvault init --receive-only' and push to it
                    """))
            }
            announced = highest
            state = .awaitingIndex
            return [.send(.indexRequest(after: lastSequence, limit: Message.batchLimit))]
        case (.awaitingIndex, .received(.indexBatch(let incoming))):
            var previous = lastSequence
            for (_, version) in incoming.versions {
                guard version.sequence > previous else {
                    return fail(.protocolViolation("index batch out of order at sequence \(version.sequence)"))
                }
                guard version.sequence <= announced else {
                    return fail(.protocolViolation("version at sequence \(version.sequence), beyond the \(announced) the peer announced"))
                }
                previous = version.sequence
            }
            if incoming.done && previous != announced {
                return fail(.protocolViolation("the peer announced sequence \(announced), but its index ends at \(previous)"))
            }
            batch = incoming
            state = .findingBlocks
            return [.findMissingBlocks(incoming)]
        case (.findingBlocks, .missingBlocks(let need)):
            toRequest = need[...]
            return nextStep()
        case (.awaitingBlocks, .received(.blockResponse(let blocks))):
            // The whole response is checked before anything of it is stored.
            var expected = outstanding
            for block in blocks where expected.remove(block.id) == nil {
                return fail(.protocolViolation("block \(block.id) was not requested"))
            }
            outstanding = expected
            unanswered += blocks.count
            return blocks.map(Action.store) + stepIfComplete()
        case (.awaitingBlocks, .stored(_, let bytes)) where unanswered > 0, (.awaitingDictionaries, .stored(_, let bytes)) where unanswered > 0:
            unanswered -= 1
            blocksReceived += 1
            bytesReceived += Int64(bytes)
            return stepIfComplete()
        case (.awaitingBlocks, .lacksDictionary(let id, let block)) where unanswered > 0,
             (.awaitingDictionaries, .lacksDictionary(let id, let block)) where unanswered > 0:
            unanswered -= 1
            guard !storedDictionaries.contains(id) else {
                return fail(.protocolViolation("block \(block.id) still lacks zstd dictionary \(id) after it was stored"))
            }
            waiting[id, default: []].append(block)
            return stepIfComplete()
        case (.awaitingDictionaries, .received(.dictionaries(let dictionaries))):
            // The whole answer is checked before anything of it is stored.
            var delivered = Set<UInt32>()
            for dictionary in dictionaries where !asked.contains(dictionary.id) || !delivered.insert(dictionary.id).inserted {
                return fail(.protocolViolation("zstd dictionary \(dictionary.id) was not asked for"))
            }
            if let missing = asked.first(where: { !delivered.contains($0) }) {
                return fail(.protocolViolation("block \(waiting[missing]![0].id) needs zstd dictionary \(missing), which the peer did not send"))
            }
            var actions: [Action] = []
            for dictionary in dictionaries {
                let blocks = waiting.removeValue(forKey: dictionary.id) ?? []
                actions.append(.storeDictionary(dictionary, neededBy: blocks[0]))
                actions += blocks.map(Action.store)
                unanswered += 1 + blocks.count
            }
            asked = []
            return actions
        case (.awaitingDictionaries, .dictionaryStored(let id)) where unanswered > 0:
            unanswered -= 1
            dictionariesReceived += 1
            storedDictionaries.insert(id)
            return stepIfComplete()
        case (.recording, .recorded):
            guard let current = batch else { return fail(.protocolViolation("no index batch in progress")) }
            versionsRecorded += current.versions.count
            if let last = current.versions.last { lastSequence = last.version.sequence }
            batch = nil
            if current.done {
                let beyond = current.snapshots.filter { $0.sequence > announced }
                snapshotsSkipped += beyond.map { "\($0.id): at sequence \($0.sequence), beyond the \(announced) the peer announced" }
                state = .recordingSnapshots
                return [.recordSnapshots(current.snapshots.filter { $0.sequence <= announced })]
            }
            guard !current.versions.isEmpty else { return fail(.protocolViolation("an empty index batch that is not the last")) }
            state = .awaitingIndex
            return [.send(.indexRequest(after: lastSequence, limit: Message.batchLimit))]
        case (.recordingSnapshots, .snapshotsRecorded(let added, let skipped)):
            snapshotsAdded += added
            snapshotsSkipped += skipped
            state = .finished
            return [.send(.close(reason: "")), .finish]
        case (_, .received(.close(let reason))):
            state = .finished
            return reason.isEmpty ? [.finish] : [.fail(.peerFailed(reason))]
        case (_, .received(let message)):
            return fail(.protocolViolation("unexpected \(message.name) while \(state)"))
        default:
            return fail(.protocolViolation("an answer from the vault that nothing asked for while \(state)"))
        }
    }

    /// The next step once every block asked for has arrived and every store is answered; nothing before.
    private mutating func stepIfComplete() -> [Action] {
        outstanding.isEmpty && unanswered == 0 ? nextStep() : []
    }

    /// Asks for the dictionaries waiting blocks need, or the next blocks the current batch needs,
    /// or has the batch recorded.
    private mutating func nextStep() -> [Action] {
        if !waiting.isEmpty {
            asked = Array(waiting.keys.sorted().prefix(Message.dictionaryLimit))
            state = .awaitingDictionaries
            return [.send(.dictionaryRequest(ids: asked))]
        }
        if !toRequest.isEmpty {
            let chunk = Array(toRequest.prefix(Message.requestLimit))
            toRequest = toRequest.dropFirst(chunk.count)
            outstanding = Set(chunk)
            state = .awaitingBlocks
            return [.send(.blockRequest(chunk))]
        }
        guard let current = batch else { return fail(.protocolViolation("no index batch in progress")) }
        state = .recording
        return [.record(current, masterDevice: masterDevice)]
    }

    /// Ends the exchange: the peer hears why, then the failure.
    private mutating func fail(_ error: ReplicationError) -> [Action] {
        state = .finished
        return [.send(.close(reason: "\(error)")), .fail(error)]
    }
}
