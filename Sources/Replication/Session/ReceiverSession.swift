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
    /// Whether it holds zstd dictionary `id` (and can load it).
    func holdsDictionary(_ id: UInt32) -> Bool
    /// Checks a dictionary against a block that needs it (the block must decode with it to its
    /// hash) and stores it durably, recorded, before that block; idempotent for one it already
    /// holds; throws, storing nothing, when it is not a dictionary of its ID or does not fit the block.
    func store(_ dictionary: Message.StoredDictionary, neededBy block: Message.StoredBlock) throws
    /// Records versions whose blocks are all stored, after sealing what holds them.
    func record(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], masterDevice: String) throws
    /// Records the snapshots it does not have and may list; says how many were new and which it refused.
    func record(snapshots: [Snapshot]) throws -> ReplicaWriter.SnapshotRecording
}

/// The receiving side, which drives the exchange: it takes the sender's announcement of its
/// highest sequence, asks for the sender's index after what it has, computes its need (blocks of
/// those versions that it lacks), asks for exactly those, and records each batch once its blocks
/// are stored. A block that names a zstd dictionary the sink lacks waits until the blocks asked
/// for with it have arrived; then exactly the dictionaries such blocks need are asked for, each
/// checked against a block that needs it before it is stored. Messages in, messages out.
public struct ReceiverSession {
    public enum State: Equatable { case awaitingHello, awaitingAnnouncement, awaitingIndex, awaitingBlocks, awaitingDictionaries, finished }
    public private(set) var state = State.awaitingHello
    public private(set) var dictionariesReceived = 0
    public private(set) var blocksReceived = 0
    public private(set) var bytesReceived: Int64 = 0
    public private(set) var versionsRecorded = 0
    public private(set) var snapshotsAdded = 0
    /// The snapshots the sender offered that were not recorded, each as "ID: why".
    public private(set) var snapshotsSkipped: [String] = []
    private let sink: any ReplicationSink
    private var masterDevice = ""
    /// The highest sequence the sender announced: nothing above it is taken.
    private var announced: Int64 = 0
    private var lastSequence: Int64 = 0
    private var batch: Message.IndexBatch?
    private var toRequest: [BlockID] = []
    private var outstanding = Set<BlockID>()
    /// Blocks received that need a zstd dictionary the sink lacks, by that dictionary's ID.
    private var waiting: [UInt32: [Message.StoredBlock]] = [:]
    /// The dictionary IDs named in the request in flight.
    private var asked: [UInt32] = []

    public init(sink: any ReplicationSink) { self.sink = sink }

    public func start() -> [Message] { [.hello(sink.hello)] }

    public mutating func handle(_ message: Message) throws -> [Message] {
        switch (state, message) {
        case (.awaitingHello, .hello(let peer)):
            guard !peer.receiveOnly else { throw ReplicationError.protocolViolation("the peer is a receive-only vault and has nothing to send") }
            try sink.accept(peer)
            masterDevice = peer.deviceID
            lastSequence = try sink.recordedSequence()
            state = .awaitingAnnouncement
            return []
        case (.awaitingAnnouncement, .announce(let highest)):
            guard highest >= lastSequence else {
                throw ReplicationError.diverged("""
                    this replica holds versions of device \(masterDevice.prefix(16)) up to sequence \(lastSequence), but that device's \
                    history ends at \(highest): another peer sent versions in its name, so the replica's history diverged from the \
                    device's; make a new replica with 'blockvault init --receive-only' and push to it
                    """)
            }
            announced = highest
            state = .awaitingIndex
            return [.indexRequest(after: lastSequence, limit: Message.batchLimit)]
        case (.awaitingIndex, .indexBatch(let incoming)):
            var previous = lastSequence
            for (_, version) in incoming.versions {
                guard version.sequence > previous else {
                    throw ReplicationError.protocolViolation("index batch out of order at sequence \(version.sequence)")
                }
                guard version.sequence <= announced else {
                    throw ReplicationError.protocolViolation("version at sequence \(version.sequence), beyond the \(announced) the peer announced")
                }
                previous = version.sequence
            }
            if incoming.done && previous != announced {
                throw ReplicationError.protocolViolation("the peer announced sequence \(announced), but its index ends at \(previous)")
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
                if let dictionary = Self.missingDictionary(of: block, sink: sink) {
                    waiting[dictionary, default: []].append(block)
                } else {
                    try store(block)
                }
            }
            return outstanding.isEmpty ? try nextStep() : []
        case (.awaitingDictionaries, .dictionaries(let dictionaries)):
            // The whole answer is checked before anything of it is stored.
            var delivered = Set<UInt32>()
            for dictionary in dictionaries where !asked.contains(dictionary.id) || !delivered.insert(dictionary.id).inserted {
                throw ReplicationError.protocolViolation("zstd dictionary \(dictionary.id) was not asked for")
            }
            if let missing = asked.first(where: { !delivered.contains($0) }) {
                throw ReplicationError.protocolViolation("block \(waiting[missing]![0].id) needs zstd dictionary \(missing), which the peer did not send")
            }
            for dictionary in dictionaries {
                let blocks = waiting.removeValue(forKey: dictionary.id) ?? []
                try sink.store(dictionary, neededBy: blocks[0])
                dictionariesReceived += 1
                for block in blocks { try store(block) }
            }
            asked = []
            return try nextStep()
        case (_, .close(let reason)):
            state = .finished
            if !reason.isEmpty { throw ReplicationError.peerFailed(reason) }
            return []
        default:
            throw ReplicationError.protocolViolation("unexpected \(SenderSession.name(of: message)) while \(state)")
        }
    }

    /// The zstd dictionary a block is compressed with, when the sink lacks it.
    private static func missingDictionary(of block: Message.StoredBlock, sink: any ReplicationSink) -> UInt32? {
        guard block.encoding == .zstdDictionary else { return nil }
        let id = block.bytes.withUnsafeBytes { ZstdDictionary.id(ofFrame: $0) }
        return id == 0 || sink.holdsDictionary(id) ? nil : id
    }

    private mutating func store(_ block: Message.StoredBlock) throws {
        try sink.store(block)
        blocksReceived += 1
        bytesReceived += Int64(block.bytes.count)
    }

    /// Asks for the dictionaries waiting blocks need, or the next blocks the current batch needs,
    /// or records the batch and moves on. Each request goes out only when the answer to the one
    /// before is complete, so neither side writes while the other is writing.
    private mutating func nextStep() throws -> [Message] {
        if !waiting.isEmpty {
            asked = Array(waiting.keys.sorted().prefix(Message.dictionaryLimit))
            state = .awaitingDictionaries
            return [.dictionaryRequest(ids: asked)]
        }
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
            let beyond = current.snapshots.filter { $0.sequence > announced }
            snapshotsSkipped += beyond.map { "\($0.id): at sequence \($0.sequence), beyond the \(announced) the peer announced" }
            let recording = try sink.record(snapshots: current.snapshots.filter { $0.sequence <= announced })
            snapshotsAdded += recording.added
            snapshotsSkipped += recording.skipped.map { "\($0.id): \($0.reason)" }
            state = .finished
            return [.close(reason: "")]
        }
        guard !current.versions.isEmpty else { throw ReplicationError.protocolViolation("an empty index batch that is not the last") }
        state = .awaitingIndex
        return [.indexRequest(after: lastSequence, limit: Message.batchLimit)]
    }
}
