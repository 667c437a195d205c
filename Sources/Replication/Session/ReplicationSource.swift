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
