import Chunker
import Store

/// The sending side as a pure state machine: it answers the receiver's requests, nothing more, and
/// never touches the vault. Events in (a message received, or the answer to a read it asked for),
/// actions out (send, read from the source, finish, fail); `SenderDriver` performs them.
///
/// To a receiver that announces version 3 it first announces its highest sequence; to any
/// receiver it sends its history only up to that sequence (a backup running during the push adds
/// versions after it, which the next push sends), so what it sends agrees with what it announced.
///
/// Contract with the driver: each read action is answered by exactly one event of its kind, in the
/// order the actions were returned, before the next message is fed. A block request is read one
/// block at a time, so at most about `Message.responseBudget` bytes of blocks wait to be sent.
public struct SenderSession: Sendable {
    public enum State: Equatable, Sendable {
        case awaitingHello, readingHighestSequence, serving, readingVersions, readingSnapshots, readingBlocks, readingDictionaries, finished
    }

    /// What happened: a message from the receiver, or the source's answer to a read.
    public enum Event: Equatable, Sendable {
        case received(Message)
        /// Answers `.readHighestSequence`.
        case highestSequence(Int64)
        /// Answers `.readVersions`: the versions and their block lists (`snapshots` empty), `done`
        /// when no version follows them.
        case versions(Message.IndexBatch)
        /// Answers `.readSnapshots`.
        case snapshots([Snapshot])
        /// Answers `.readBlock`.
        case block(Message.StoredBlock)
        /// Answers `.readDictionaries` and `.readDictionariesExcept`.
        case dictionaries([Message.StoredDictionary])
    }

    /// What to do, in order.
    public enum Action: Equatable, Sendable {
        case send(Message)
        case readHighestSequence
        case readVersions(after: Int64, limit: Int)
        case readSnapshots
        case readBlock(BlockID)
        /// Those of the dictionaries `ids` that the source holds.
        case readDictionaries(ids: [UInt32])
        /// The source's dictionaries other than these, by ascending ID.
        case readDictionariesExcept(Set<UInt32>)
        /// The receiver closed the exchange after taking everything.
        case finish
        /// The exchange failed; a close saying why precedes this when the peer should hear it.
        case fail(ReplicationError)
    }

    public private(set) var state = State.awaitingHello
    public private(set) var blocksSent = 0
    /// What a progress display shows: the blocks the receiver asked for so far (it asks batch by
    /// batch, so this grows), the stored bytes of those read for it, the sequence the receiver held
    /// when it first asked for versions, and the last sequence sent (of `highestSequence`).
    public private(set) var blocksRequested = 0
    public private(set) var blockBytesSent: Int64 = 0
    public private(set) var startSequence: Int64?
    public private(set) var sentSequence: Int64 = 0
    public private(set) var versionsSent = 0
    /// The highest sequence this push sends up to (0 until it has been read).
    public var highestSequence: Int64 { highest }
    /// This side's hello.
    public let hello: Message.Hello
    /// The protocol version the receiver announced: from 3 on, it asks for dictionaries by the IDs it wants.
    private var peerVersion: UInt8 = 1
    private var highest: Int64 = 0
    /// The index batch read so far, waiting for the snapshots that go with the last one.
    private var batch: Message.IndexBatch?
    /// The blocks of the request in progress still to read, and those read but not yet sent.
    private var toRead: ArraySlice<BlockID> = []
    private var pending: [Message.StoredBlock] = []
    private var pendingSize = 0

    public init(hello: Message.Hello) { self.hello = hello }

    public var isFinished: Bool { state == .finished }

    /// The actions to take first.
    public func start() -> [Action] { [.send(.hello(hello))] }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.awaitingHello, .received(.hello(let peer))):
            guard peer.receiveOnly else {
                return fail(.protocolViolation("the peer vault is not receive-only; push only to replicas made with 'init --receive-only'"))
            }
            guard peer.deviceID != hello.deviceID else { return fail(.protocolViolation("the peer is this vault itself")) }
            peerVersion = peer.protocolVersion
            state = .readingHighestSequence
            return [.readHighestSequence]
        case (.readingHighestSequence, .highestSequence(let sequence)):
            highest = sequence
            state = .serving
            return peerVersion >= Message.announceVersion ? [.send(.announce(highestSequence: highest))] : []
        case (.serving, .received(.indexRequest(let after, let limit))):
            if startSequence == nil { startSequence = min(after, highest) }
            state = .readingVersions
            return [.readVersions(after: after, limit: limit)]
        case (.readingVersions, .versions(var read)):
            if let cut = read.versions.firstIndex(where: { $0.version.sequence > highest }) {
                read.versions.removeSubrange(cut...)
                let used = Set(read.versions.compactMap(\.version.blockListHash))
                read.blockLists.removeAll { !used.contains($0.hash) }
                read.done = true
            }
            read.snapshots = []
            versionsSent += read.versions.count
            if let last = read.versions.last { sentSequence = last.version.sequence }
            if read.done { sentSequence = highest }
            guard read.done else {
                state = .serving
                return [.send(.indexBatch(read))]
            }
            batch = read
            state = .readingSnapshots
            return [.readSnapshots]
        case (.readingSnapshots, .snapshots(let snapshots)):
            guard var last = batch else { return fail(.protocolViolation("snapshots read with no index batch in progress")) }
            last.snapshots = snapshots.filter { $0.sequence <= highest }
            batch = nil
            state = .serving
            return [.send(.indexBatch(last))]
        case (.serving, .received(.blockRequest(let ids))):
            guard let first = ids.first else { return [] }
            blocksRequested += ids.count
            toRead = ids.dropFirst()[...]
            state = .readingBlocks
            return [.readBlock(first)]
        case (.readingBlocks, .block(let block)):
            var actions: [Action] = []
            if !pending.isEmpty && pendingSize + block.bytes.count > Message.responseBudget {
                actions.append(.send(.blockResponse(pending)))
                pending = []
                pendingSize = 0
            }
            pending.append(block)
            pendingSize += block.bytes.count
            blocksSent += 1
            blockBytesSent += Int64(block.bytes.count)
            if let next = toRead.popFirst() {
                actions.append(.readBlock(next))
            } else {
                actions.append(.send(.blockResponse(pending)))
                pending = []
                pendingSize = 0
                state = .serving
            }
            return actions
        case (.serving, .received(.dictionaryRequest(let ids))):
            state = .readingDictionaries
            guard peerVersion >= Message.announceVersion else {
                // A version 2 receiver names the dictionaries it holds and takes the others.
                return [.readDictionariesExcept(Set(ids))]
            }
            guard ids.count <= Message.dictionaryLimit else {
                return fail(.protocolViolation("a request for \(ids.count) dictionaries (at most \(Message.dictionaryLimit))"))
            }
            return [.readDictionaries(ids: ids)]
        case (.readingDictionaries, .dictionaries(let dictionaries)):
            state = .serving
            // To a version 2 receiver, exactly `dictionaryLimit` means more may follow.
            return [.send(.dictionaries(peerVersion >= Message.announceVersion ? dictionaries : Array(dictionaries.prefix(Message.dictionaryLimit))))]
        case (_, .received(.close(let reason))):
            state = .finished
            return reason.isEmpty ? [.finish] : [.fail(.peerFailed(reason))]
        case (_, .received(let message)):
            return fail(.protocolViolation("unexpected \(message.name) while \(state)"))
        default:
            return fail(.protocolViolation("an answer from the vault that nothing asked for while \(state)"))
        }
    }

    /// Ends the exchange: the peer hears why, then the failure.
    private mutating func fail(_ error: ReplicationError) -> [Action] {
        state = .finished
        return [.send(.close(reason: "\(error)")), .fail(error)]
    }
}
