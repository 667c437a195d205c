import Chunker
import Store

/// A vault as the sending side of a replication.
public final class VaultSource: ReplicationSource {
    private let vault: Vault
    private let reader: PackReader
    public let hello: Message.Hello

    public init(vault: Vault) {
        self.vault = vault
        reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        // Protocol 2 only when the receiver needs it to read this vault's blocks: builds that speak
        // only 1 refuse it, and keep replicating vaults without dictionaries. A receiver that
        // announces 3 gets the announcement of the highest sequence whatever this says.
        hello = Message.Hello(deviceID: vault.configuration.deviceID, vaultID: vault.configuration.vaultID,
                              receiveOnly: vault.configuration.receiveOnly,
                              protocolVersion: vault.dictionaries.all.isEmpty ? 1 : Message.dictionaryVersion)
    }

    public func highestSequence() throws -> Int64 { try vault.catalog.maximumSequence() }

    public func versions(after: Int64, limit: Int) throws -> (versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], done: Bool) {
        var versions = try vault.catalog.versionBatch(after: after, limit: limit + 1)
        let done = versions.count <= limit
        if !done { versions.removeLast() }
        var lists: [MetadataRecord.BlockListRecord] = []
        var seen = Set<BlockID>()
        for (_, version) in versions where version.blockCount > 1 {
            guard let hash = version.blockListHash, seen.insert(hash).inserted else { continue }
            guard let ids = try vault.catalog.blockListBytes(hash) else {
                throw StoreError.corrupt("block list \(hash) of \(version.displayPath) is missing; run 'blockvault check'")
            }
            lists.append(MetadataRecord.BlockListRecord(hash: hash, size: version.size, ids: ids))
        }
        return (versions, lists, done)
    }

    public func snapshots() throws -> [Snapshot] { try vault.catalog.snapshots().map(\.snapshot) }

    public func storedBlock(_ id: BlockID) throws -> Message.StoredBlock {
        guard let location = try vault.catalog.location(of: id) else {
            throw StoreError.corrupt("the peer asked for block \(id), which this vault lacks; run 'blockvault check'")
        }
        let (stored, encoding) = try reader.readAlone(location, level: vault.configuration.compression.level)
        return Message.StoredBlock(id: id, encoding: encoding, rawLength: location.entry.rawLength, bytes: Array(stored))
    }

    public func dictionaries(excluding: Set<UInt32>) throws -> [Message.StoredDictionary] {
        vault.dictionaries.all.filter { !excluding.contains($0.id) }.map { Message.StoredDictionary(id: $0.id, bytes: $0.bytes) }
    }
}

/// A receive-only vault as the receiving side of a replication.
public final class VaultSink: ReplicationSink {
    private let writer: ReplicaWriter
    public let hello: Message.Hello

    public init(vault: Vault) throws {
        writer = try ReplicaWriter(vault: vault)
        // Version 3: this side needs the sender's announcement of its highest sequence.
        hello = Message.Hello(deviceID: vault.configuration.deviceID, vaultID: vault.configuration.vaultID,
                              receiveOnly: vault.configuration.receiveOnly, protocolVersion: Message.announceVersion)
    }

    /// The device accepted as the sender, whose numbering `recordedSequence` answers in.
    private var sender: String?

    public func accept(_ peer: Message.Hello) throws {
        try writer.checkMaster(peer.deviceID)
        sender = peer.deviceID
    }

    public func recordedSequence() throws -> Int64 {
        guard let sender else { return try writer.recordedSequence() }
        return try writer.recordedSequence(from: sender)
    }

    public func hasBlock(_ id: BlockID) throws -> Bool { try writer.hasBlock(id) }

    public func blockIDs(of version: FileVersion, lists: [BlockID: MetadataRecord.BlockListRecord]) throws -> [BlockID] {
        guard version.blockCount > 0, let hash = version.blockListHash else { return [] }
        if version.blockCount == 1 { return [hash] }
        let ids: [BlockID]
        if let list = lists[hash] {
            ids = list.ids.withUnsafeBytes(BlockID.list(in:))
        } else {
            ids = try writer.vault.catalog.blockIDs(of: version)
        }
        guard ids.count == version.blockCount else {
            throw ReplicationError.protocolViolation("block list of \(version.displayPath) has \(ids.count) blocks, the version says \(version.blockCount)")
        }
        return ids
    }

    public func store(_ block: Message.StoredBlock) throws {
        try block.bytes.withUnsafeBytes { try writer.store(id: block.id, stored: $0, rawLength: block.rawLength, encoding: block.encoding) }
    }

    public func holdsDictionary(_ id: UInt32) -> Bool { writer.holdsDictionary(id) }

    public func store(_ dictionary: Message.StoredDictionary, neededBy block: Message.StoredBlock) throws {
        try writer.storeDictionary(id: dictionary.id, bytes: dictionary.bytes, neededBy: block.id, stored: block.bytes, rawLength: block.rawLength)
    }

    public func record(versions: [(folder: [UInt8], version: FileVersion)], blockLists: [MetadataRecord.BlockListRecord], masterDevice: String) throws {
        try writer.record(versions: versions, blockLists: blockLists, masterDevice: masterDevice)
    }

    public func record(snapshots: [Snapshot]) throws -> ReplicaWriter.SnapshotRecording { try writer.record(snapshots: snapshots) }
}
