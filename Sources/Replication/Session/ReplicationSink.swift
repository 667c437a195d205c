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
