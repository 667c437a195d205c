import Chunker
import Store

/// A receiver session run against a `ReplicationSink`.
public typealias ReceiverDriver = SessionDriver<ReceiverSession>

extension SessionDriver where Session == ReceiverSession {
    /// A receiver into `sink`; each action the session asks for is performed on the sink.
    public convenience init(sink: any ReplicationSink) {
        self.init(ReceiverSession(hello: sink.hello)) { action in try Self.perform(action, on: sink) }
    }

    private static func perform(_ action: ReceiverSession.Action, on sink: any ReplicationSink) throws -> SessionStep<ReceiverSession.Event> {
        switch action {
        case .send(let message):
            return .send(message)
        case .accept(let peer):
            try sink.accept(peer)
            return .answer(.accepted(recordedSequence: try sink.recordedSequence()))
        case .findMissingBlocks(let batch):
            let lists = Dictionary(batch.blockLists.map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first })
            var need: [BlockID] = []
            var seen = Set<BlockID>()
            for (_, version) in batch.versions where !version.deleted {
                for id in try sink.blockIDs(of: version, lists: lists) where seen.insert(id).inserted {
                    if try !sink.hasBlock(id) { need.append(id) }
                }
            }
            return .answer(.missingBlocks(need))
        case .store(let block):
            if let dictionary = block.dictionaryID, !sink.holdsDictionary(dictionary) {
                return .answer(.lacksDictionary(dictionary, block))
            }
            try sink.store(block)
            return .answer(.stored(block.id, bytes: block.bytes.count))
        case .storeDictionary(let dictionary, let block):
            try sink.store(dictionary, neededBy: block)
            return .answer(.dictionaryStored(dictionary.id))
        case .record(let batch, let masterDevice):
            try sink.record(versions: batch.versions, blockLists: batch.blockLists, masterDevice: masterDevice)
            return .answer(.recorded)
        case .recordSnapshots(let snapshots):
            let recording = try sink.record(snapshots: snapshots)
            return .answer(.snapshotsRecorded(added: recording.added, skipped: recording.skipped.map { "\($0.id): \($0.reason)" }))
        case .finish:
            return .finish
        case .fail(let error):
            return .fail(error)
        }
    }
}
