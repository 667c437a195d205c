import Chunker
import Store

/// A sender session run against a `ReplicationSource`.
public typealias SenderDriver = SessionDriver<SenderSession>

extension SessionDriver where Session == SenderSession {
    /// A sender of `source`'s history; each read the session asks for is one call to the source.
    /// The session's counters are copied to `progress` after every event.
    public convenience init(source: any ReplicationSource, progress: SenderProgress? = nil) {
        self.init(SenderSession(hello: source.hello)) { action in try Self.perform(action, on: source) }
        if let progress { observer = { progress.update(from: $0) } }
    }

    private static func perform(_ action: SenderSession.Action, on source: any ReplicationSource) throws -> SessionStep<SenderSession.Event> {
        switch action {
        case .send(let message):
            return .send(message)
        case .readHighestSequence:
            return .answer(.highestSequence(try source.highestSequence()))
        case .readVersions(let after, let limit):
            let read = try source.versions(after: after, limit: limit)
            return .answer(.versions(Message.IndexBatch(versions: read.versions, blockLists: read.blockLists, done: read.done, snapshots: [])))
        case .readSnapshots:
            return .answer(.snapshots(try source.snapshots()))
        case .readBlock(let id):
            return .answer(.block(try source.storedBlock(id)))
        case .readDictionaries(let ids):
            return .answer(.dictionaries(try source.dictionaries(ids: ids)))
        case .readDictionariesExcept(let held):
            return .answer(.dictionaries(try source.dictionaries(excluding: held)))
        case .finish:
            return .finish
        case .fail(let error):
            return .fail(error)
        }
    }
}
