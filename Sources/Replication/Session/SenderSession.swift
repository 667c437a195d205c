import Chunker
import Store

/// What a sending vault offers its peer.
public protocol ReplicationSource {
    var hello: Message.Hello { get }
    /// The highest sequence of its history: what it announces, and the most it sends.
    func highestSequence() throws -> Int64
    /// Up to `limit` versions after `after`, the block lists of those with several blocks, and
    /// whether no version follows them.
    func versions(after: Int64, limit: Int) throws -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], done: Bool)
    func snapshots() throws -> [Snapshot]
    /// A block as stored, after checking that it decodes to bytes matching its hash.
    func storedBlock(_ id: BlockID) throws -> Message.StoredBlock
    /// The zstd dictionaries its blocks may need, other than those in `excluding`, by ascending ID.
    func dictionaries(excluding: Set<UInt32>) throws -> [Message.StoredDictionary]
    /// Those of the zstd dictionaries `ids` that it holds.
    func dictionaries(ids: [UInt32]) throws -> [Message.StoredDictionary]
}

extension ReplicationSource {
    public func dictionaries(ids: [UInt32]) throws -> [Message.StoredDictionary] {
        let wanted = Set(ids)
        return try dictionaries(excluding: []).filter { wanted.contains($0.id) }
    }
}

/// The sending side: answers the receiver's requests, nothing more. Messages in, messages out.
/// To a receiver that announces version 3 it first announces its highest sequence; to any receiver
/// it sends its history only up to that sequence (a backup running during the push adds versions
/// after it, which the next push sends), so what it sends agrees with what it announced.
public struct SenderSession {
    public enum State: Equatable { case awaitingHello, serving, finished }
    public private(set) var state = State.awaitingHello
    public private(set) var blocksSent = 0
    private let source: any ReplicationSource
    /// The protocol version the receiver announced: from 3 on, it asks for dictionaries by the IDs it wants.
    private var peerVersion: UInt8 = 1
    private var highest: Int64 = 0

    public init(source: any ReplicationSource) { self.source = source }

    /// The messages to send first.
    public func start() -> [Message] { [.hello(source.hello)] }

    /// Handles one message from the receiver and returns the replies.
    public mutating func handle(_ message: Message) throws -> [Message] {
        switch (state, message) {
        case (.awaitingHello, .hello(let peer)):
            guard peer.receiveOnly else {
                throw ReplicationError.protocolViolation("the peer vault is not receive-only; push only to replicas made with 'init --receive-only'")
            }
            guard peer.deviceID != source.hello.deviceID else { throw ReplicationError.protocolViolation("the peer is this vault itself") }
            peerVersion = peer.protocolVersion
            highest = try source.highestSequence()
            state = .serving
            return peerVersion >= Message.announceVersion ? [.announce(highestSequence: highest)] : []
        case (.serving, .indexRequest(let after, let limit)):
            var batch = try source.versions(after: after, limit: limit)
            if let cut = batch.versions.firstIndex(where: { $0.version.sequence > highest }) {
                batch.versions.removeSubrange(cut...)
                let used = Set(batch.versions.compactMap(\.version.blockListHash))
                batch.blockLists.removeAll { !used.contains($0.hash) }
                batch.done = true
            }
            return [.indexBatch(Message.IndexBatch(versions: batch.versions, blockLists: batch.blockLists, done: batch.done,
                                                   snapshots: batch.done ? try source.snapshots().filter { $0.sequence <= highest } : []))]
        case (.serving, .blockRequest(let ids)):
            var replies: [Message] = []
            var pending: [Message.StoredBlock] = []
            var size = 0
            for id in ids {
                let block = try source.storedBlock(id)
                if !pending.isEmpty && size + block.bytes.count > Message.responseBudget {
                    replies.append(.blockResponse(pending))
                    pending = []
                    size = 0
                }
                pending.append(block)
                size += block.bytes.count
                blocksSent += 1
            }
            if !pending.isEmpty { replies.append(.blockResponse(pending)) }
            return replies
        case (.serving, .dictionaryRequest(let ids)):
            guard peerVersion >= Message.announceVersion else {
                // A version 2 receiver names the dictionaries it holds and takes the others.
                return [.dictionaries(Array(try source.dictionaries(excluding: Set(ids)).prefix(Message.dictionaryLimit)))]
            }
            guard ids.count <= Message.dictionaryLimit else {
                throw ReplicationError.protocolViolation("a request for \(ids.count) dictionaries (at most \(Message.dictionaryLimit))")
            }
            return [.dictionaries(try source.dictionaries(ids: ids))]
        case (_, .close(let reason)):
            state = .finished
            if !reason.isEmpty { throw ReplicationError.peerFailed(reason) }
            return []
        default:
            throw ReplicationError.protocolViolation("unexpected \(Self.name(of: message)) while \(state)")
        }
    }

    static func name(of message: Message) -> String {
        switch message {
        case .hello: "hello"
        case .indexRequest: "index request"
        case .indexBatch: "index batch"
        case .blockRequest: "block request"
        case .blockResponse: "block response"
        case .close: "close"
        case .dictionaryRequest: "dictionary request"
        case .dictionaries: "dictionaries"
        case .announce: "announcement"
        }
    }
}
