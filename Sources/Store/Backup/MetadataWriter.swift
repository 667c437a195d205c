import Chunker
import Synchronization

/// Writes the metadata records that let `repair` rebuild the catalog from packs alone, then commits
/// the snapshot. Order: every version the snapshot covers (since the last metadata written) and its
/// block lists go into metadata packs; the packs are sealed and recorded; only then is the snapshot
/// row committed.
struct MetadataWriter {
    let vault: Vault

    func writeSnapshot(_ snapshot: Snapshot, folder: Int64) throws -> Snapshot {
        let catalog = vault.catalog
        let sealed = SealedPackList()
        let packs = PackWriter(kind: .metadata, storage: vault.storage) { pack in sealed.append(pack) }
        let encoder = BlockEncoder(level: vault.configuration.compression.level)
        let hasher = SHA256Hasher()
        var recordIDs: [BlockID] = []
        var stored = Set<BlockID>()

        func store(_ bytes: [UInt8]) throws -> BlockID {
            try bytes.withUnsafeBytes { plain in
                let id = hasher.hash(plain)
                if stored.insert(id).inserted, try !catalog.hasBlock(id) {
                    let (encoded, encoding) = try encoder.encode(plain, id: id)
                    try packs.append(id: id, stored: encoded, rawLength: plain.count, encoding: encoding)
                }
                return id
            }
        }

        let after = try catalog.setting("metadata_sequence") ?? 0
        // After a metadata pack was lost, every earlier snapshot's record is written again too.
        let rewrite = try catalog.setting("metadata_rewrite") == 1
        if rewrite {
            let snapshots = try catalog.snapshots().map(\.snapshot)
            for earlier in snapshots { _ = try store(MetadataRecord.encodeSnapshot(earlier, versionRecords: [])) }
            // The lost pack may have held forget records: whatever the surviving records describe
            // that the catalog no longer has was forgotten, and must stay so after a rebuild.
            let (forgottenSnapshots, forgottenSequences) = try forgottenSinceRecorded(keeping: Set(snapshots.map(\.id)))
            if !forgottenSnapshots.isEmpty || !forgottenSequences.isEmpty {
                _ = try store(MetadataRecord.encodeForget(snapshots: forgottenSnapshots, sequences: forgottenSequences))
            }
        }
        var batch: [(folder: [UInt8], version: FileVersion)] = []
        var lists: [MetadataRecord.BlockListRecord] = []
        var batchSize = 0
        var folderPaths: [Int64: [UInt8]] = [:]
        func flushBatch() throws {
            guard !batch.isEmpty || !lists.isEmpty else { return }
            recordIDs.append(try store(MetadataRecord.encodeVersions(batch, blockLists: lists)))
            batch.removeAll()
            lists.removeAll()
            batchSize = 0
        }
        var listed = Set<BlockID>()
        try catalog.versions(after: after, through: snapshot.sequence) { folderID, version in
            if folderPaths[folderID] == nil { folderPaths[folderID] = try catalog.folderPath(id: folderID) }
            batch.append((folderPaths[folderID]!, version))
            batchSize += 64 + version.path.count
            if version.blockCount > 1, let hash = version.blockListHash, listed.insert(hash).inserted, let ids = try catalog.blockListBytes(hash) {
                lists.append(MetadataRecord.BlockListRecord(hash: hash, size: version.size, ids: ids))
                batchSize += ids.count + 48
            }
            if batchSize >= MetadataRecord.targetSize { try flushBatch() }
        }
        try flushBatch()
        var result = snapshot
        result.metadataID = try store(MetadataRecord.encodeSnapshot(snapshot, versionRecords: recordIDs))
        try packs.flush()
        try catalog.transaction {
            for pack in sealed.take() { try catalog.insertPack(pack) }
            try catalog.insertSnapshot(result, folder: folder)
            try catalog.setSetting("metadata_sequence", snapshot.sequence)
            if rewrite { try catalog.setSetting("metadata_rewrite", 0) }
        }
        return result
    }

    /// Snapshot ids and version sequences that surviving metadata records describe but the catalog
    /// no longer has.
    private func forgottenSinceRecorded(keeping snapshots: Set<String>) throws -> ([String], [Int64]) {
        let catalog = vault.catalog
        let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
        var ids = Set<String>()
        var sequences = Set<Int64>()
        for pack in try catalog.packs() where pack.kind == Int(PackFormat.Kind.metadata.rawValue) {
            for (_, entry) in try catalog.entries(ofPack: pack.id) {
                guard let bytes = try? Array(reader.read(BlockLocation(pack: pack.name, entry: entry))) else { continue }
                switch bytes.first {
                case MetadataRecord.snapshotKind:
                    if let (snapshot, _) = try? MetadataRecord.decodeSnapshot(bytes), !snapshots.contains(snapshot.id) { ids.insert(snapshot.id) }
                case MetadataRecord.versionsKind:
                    if let record = try? MetadataRecord.decodeVersions(bytes) {
                        for (_, version) in record.versions where try !catalog.hasVersion(sequence: version.sequence) {
                            sequences.insert(version.sequence)
                        }
                    }
                default:
                    break
                }
            }
        }
        return (ids.sorted(), sequences.sorted())
    }
}
