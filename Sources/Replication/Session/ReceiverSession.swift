import Chunker
import Store

/// Where a receiving vault records what arrives.
public protocol ReplicationSink: AnyObject {
    var hello: Message.Hello { get }
    /// Checks that this sink may take the history of `peer` (a replica follows one master).
    func accept(_ peer: Message.Hello) throws
    /// The sender's sequence up to which every version is recorded here.
    func recordedSequence() throws -> Int64
    func hasBlock(_ id: BlockID) throws -> Bool
    /// The block IDs of a version, from `lists` (sent with it) or the sink's own catalog.
    func blockIDs(of version: FileVersion, lists: [BlockID: MetadataRecord.BlockListRecord]) throws -> [BlockID]
    /// Verifies a block against its hash and stores it; throws (storing nothing) when it is false.
    func store(_ block: Message.StoredBlock) throws
    /// The IDs of the zstd dictionaries it holds (and can load).
    func dictionaryIDs() throws -> [UInt32]
    /// Checks a dictionary and stores it durably, recorded, before any block that needs it;
    /// idempotent for one it already holds; throws when it is not a dictionary of its ID.
    func store(_ dictionary: Message.StoredDictionary) throws
    /// Records versions whose blocks are all stored, after sealing what holds them.
    func record(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], masterDevice: String) throws
    /// Records snapshots it does not have; returns how many were new.
    func record(snapshots: [Snapshot]) throws -> Int
}

/// The receiving side, which drives the exchange: from a sender that announces protocol 2 it first
/// takes the zstd dictionaries it lacks, then it asks for the sender's index after what it has,
/// computes its need (blocks of those versions that it lacks), asks for exactly those, and
/// records each batch once its blocks are stored. Messages in, messages out.
public struct ReceiverSession {
    public enum State: Equatable { case awaitingHello, awaitingDictionaries, awaitingIndex, awaitingBlocks, finished }
    public private(set) var state = State.awaitingHello
    public private(set) var dictionariesReceived = 0
    public private(set) var blocksReceived = 0
    public private(set) var bytesReceived: Int64 = 0
    public private(set) var versionsRecorded = 0
    public private(set) var snapshotsAdded = 0
    private let sink: any ReplicationSink
    private var masterDevice = ""
    private var lastSequence: Int64 = 0
    private var batch: Message.IndexBatch?
    private var toRequest: [BlockID] = []
    private var outstanding = Set<BlockID>()
    /// The dictionary IDs named in the last dictionary request.
    private var dictionariesHeld = Set<UInt32>()

    public init(sink: any ReplicationSink) { self.sink = sink }

    public func start() -> [Message] { [.hello(sink.hello)] }

    public mutating func handle(_ message: Message) throws -> [Message] {
        switch (state, message) {
        case (.awaitingHello, .hello(let peer)):
            guard !peer.receiveOnly else { throw ReplicationError.protocolViolation("the peer is a receive-only vault and has nothing to send") }
            try sink.accept(peer)
            masterDevice = peer.deviceID
            lastSequence = try sink.recordedSequence()
            if peer.protocolVersion >= Message.dictionaryVersion { return try requestDictionaries() }
            state = .awaitingIndex
            return [.indexRequest(after: lastSequence, limit: Message.batchLimit)]
        case (.awaitingDictionaries, .dictionaries(let dictionaries)):
            for dictionary in dictionaries {
                guard dictionariesHeld.insert(dictionary.id).inserted else {
                    throw ReplicationError.protocolViolation("zstd dictionary \(dictionary.id) was not asked for")
                }
                try sink.store(dictionary)
                dictionariesReceived += 1
            }
            // A full message may be followed by more (each round adds new dictionaries, so it ends).
            if dictionaries.count == Message.dictionaryLimit { return try requestDictionaries() }
            state = .awaitingIndex
            return [.indexRequest(after: lastSequence, limit: Message.batchLimit)]
        case (.awaitingIndex, .indexBatch(let incoming)):
            var previous = lastSequence
            for (_, version) in incoming.versions {
                guard version.sequence > previous else {
                    throw ReplicationError.protocolViolation("index batch out of order at sequence \(version.sequence)")
                }
                previous = version.sequence
            }
            let lists = Dictionary(incoming.blockLists.map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first })
            var need: [BlockID] = []
            var seen = Set<BlockID>()
            for (_, version) in incoming.versions where !version.deleted {
                for id in try sink.blockIDs(of: version, lists: lists) where seen.insert(id).inserted {
                    if try !sink.hasBlock(id) { need.append(id) }
                }
            }
            batch = incoming
            toRequest = need
            return try nextStep()
        case (.awaitingBlocks, .blockResponse(let blocks)):
            for block in blocks {
                guard outstanding.remove(block.id) != nil else {
                    throw ReplicationError.protocolViolation("block \(block.id) was not requested")
                }
                try sink.store(block)
                blocksReceived += 1
                bytesReceived += Int64(block.bytes.count)
            }
            return outstanding.isEmpty ? try nextStep() : []
        case (_, .close(let reason)):
            state = .finished
            if !reason.isEmpty { throw ReplicationError.peerFailed(reason) }
            return []
        default:
            throw ReplicationError.protocolViolation("unexpected \(SenderSession.name(of: message)) while \(state)")
        }
    }

    private mutating func requestDictionaries() throws -> [Message] {
        let held = try sink.dictionaryIDs()
        guard held.count <= Message.dictionaryIDLimit else {
            throw ReplicationError.protocolViolation("this replica holds more than \(Message.dictionaryIDLimit) zstd dictionaries")
        }
        dictionariesHeld = Set(held)
        state = .awaitingDictionaries
        return [.dictionaryRequest(have: held)]
    }

    /// Requests the next blocks the current batch needs, or records the batch and moves on.
    private mutating func nextStep() throws -> [Message] {
        if !toRequest.isEmpty {
            let chunk = Array(toRequest.prefix(Message.requestLimit))
            toRequest.removeFirst(chunk.count)
            outstanding = Set(chunk)
            state = .awaitingBlocks
            return [.blockRequest(chunk)]
        }
        guard let current = batch else { throw ReplicationError.protocolViolation("no index batch in progress") }
        try sink.record(versions: current.versions, blockLists: current.blockLists, masterDevice: masterDevice)
        versionsRecorded += current.versions.count
        if let last = current.versions.last { lastSequence = last.version.sequence }
        batch = nil
        if current.done {
            snapshotsAdded += try sink.record(snapshots: current.snapshots)
            state = .finished
            return [.close(reason: "")]
        }
        guard !current.versions.isEmpty else { throw ReplicationError.protocolViolation("an empty index batch that is not the last") }
        state = .awaitingIndex
        return [.indexRequest(after: lastSequence, limit: Message.batchLimit)]
    }
}
