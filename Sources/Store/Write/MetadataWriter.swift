import Chunker
import Synchronization

/// Writes the metadata records that let `repair` rebuild the catalog from packs alone, then commits
/// the snapshot, through the vault's writer. Order: every version the snapshot covers (since the
/// last metadata written) and its block lists go into metadata packs; the packs are sealed and
/// recorded; only then, in the same transaction, is the snapshot row committed.
///
/// A backup streams most of this work: its committer hands each version it records to a
/// `MetadataStream` on the same writer, which encodes and compresses the records while the backup
/// runs. The writer then only adds what the stream did not cover and the snapshot record.
struct MetadataWriter {
    let writer: VaultWriter

    func writeSnapshot(_ snapshot: Snapshot, folder: Int64, stream: MetadataStream? = nil) throws -> Snapshot {
        let catalog = writer.vault.catalog
        var recordIDs: [BlockID] = []
        func store(_ bytes: [UInt8]) throws -> BlockID { try writer.storeRecord(bytes) }

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
        // Versions the stream recorded are described already; earlier ones (from a backup that died
        // before its snapshot, or all of them without a stream) are read back from the catalog.
        let earlier = VersionRecords(writer: writer, recordSize: MetadataRecord.targetSize, holdUntilCommitted: false)
        var folderPaths: [Int64: [UInt8]] = [:]
        let through = stream.map { min($0.startSequence, snapshot.sequence) } ?? snapshot.sequence
        try catalog.versions(after: after, through: through) { folderID, version in
            if folderPaths[folderID] == nil { folderPaths[folderID] = try catalog.folderPath(id: folderID) }
            try earlier.add(version, folder: folderPaths[folderID]!) { try version.blockListHash.flatMap { try catalog.blockListBytes($0) } }
        }
        recordIDs += try earlier.finish()
        if let stream { recordIDs += try stream.finish() }
        var result = snapshot
        result.metadataID = try store(MetadataRecord.encodeSnapshot(snapshot, versionRecords: recordIDs))
        try writer.commit { catalog in
            try catalog.insertSnapshot(result, folder: folder)
            try catalog.setSetting("metadata_sequence", snapshot.sequence)
            if rewrite { try catalog.setSetting("metadata_rewrite", 0) }
        }
        return result
    }

    /// Snapshot ids and version sequences that surviving metadata records describe but the catalog
    /// no longer has.
    private func forgottenSinceRecorded(keeping snapshots: Set<String>) throws -> ([String], [Int64]) {
        let vault = writer.vault
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

/// Versions gathered into versions records, each cut at about `recordSize` bytes of plaintext,
/// with the block lists of multi-block files (each list once). A cut record is hashed and
/// compressed at once; with `holdUntilCommitted` it goes into a pack only at `committed()`.
/// The origins of versions received from a peer go into records of their own at `finish()`, which
/// `finish()` does not return: the records it returns (a snapshot lists them) stay byte for byte
/// those the peer wrote, and a rebuild reads every record of the metadata packs anyway. An origin
/// a rebuild derives is left out: a replica's version numbered as its master numbered it (the
/// master is the catalog's `master_device`), so a replica that follows one master writes exactly
/// the records it wrote before origins were kept.
class VersionRecords {
    let writer: VaultWriter
    private let recordSize: Int
    private let holdUntilCommitted: Bool
    private var batch: [(folder: [UInt8], version: FileVersion)] = []
    private var lists: [MetadataRecord.BlockListRecord] = []
    private var batchSize = 0
    private var listed = Set<BlockID>()
    /// Records whose versions are not committed yet.
    private var held: [VaultWriter.PreparedRecord] = []
    private var recordIDs: [BlockID] = []
    private var origins: [(sequence: Int64, origin: VersionOrigin)] = []
    /// The master the vault follows (read at the first origin); nil before that or when none.
    private var master: String??
    /// Origins per record: a few bytes each, so a record stays near `MetadataRecord.targetSize`.
    static let originsPerRecord = 200_000

    init(writer: VaultWriter, recordSize: Int, holdUntilCommitted: Bool) {
        self.writer = writer
        self.recordSize = recordSize
        self.holdUntilCommitted = holdUntilCommitted
    }

    /// A version (with its sequence) of the folder at `folder`; `blockList` gives its block list,
    /// asked only for a multi-block file whose list is not in these records yet.
    func add(_ version: FileVersion, folder: [UInt8], blockList: () throws -> [UInt8]?) throws {
        batch.append((folder, version))
        if let origin = version.origin {
            if master == nil { master = .some(try writer.vault.catalog.settingText("master_device")) }
            if origin.sequence != version.sequence || origin.device != master! { origins.append((version.sequence, origin)) }
        }
        batchSize += 64 + version.path.count + version.xattrs.byteCount
        if version.blockCount > 1, let hash = version.blockListHash, !listed.contains(hash), let ids = try blockList() {
            listed.insert(hash)
            lists.append(MetadataRecord.BlockListRecord(hash: hash, size: version.size, ids: ids))
            batchSize += ids.count + 48
        }
        if batchSize >= recordSize { try cut() }
    }

    /// Everything added so far is committed: its records may go into packs.
    func committed() throws {
        for prepared in held { try writer.storeRecord(prepared) }
        held.removeAll()
    }

    /// After the last commit: stores what is left and returns the IDs of every record, in order.
    func finish() throws -> [BlockID] {
        try cut()
        try committed()
        for start in stride(from: 0, to: origins.count, by: VersionRecords.originsPerRecord) {
            let part = origins[start..<min(start + VersionRecords.originsPerRecord, origins.count)]
            try writer.storeRecord(MetadataRecord.encodeOrigins(Array(part)))
        }
        origins.removeAll()
        return recordIDs
    }

    private func cut() throws {
        guard !batch.isEmpty || !lists.isEmpty else { return }
        let bytes = MetadataRecord.encodeVersions(batch, blockLists: lists)
        batch.removeAll(keepingCapacity: true)
        lists.removeAll()
        batchSize = 0
        let prepared = try writer.prepareRecord(bytes)
        recordIDs.append(prepared.id)
        if holdUntilCommitted { held.append(prepared) } else { try writer.storeRecord(prepared) }
    }
}

/// Describes the versions a backup's committer records, as it records them (records cut at 1 MiB,
/// smaller than `MetadataRecord.targetSize`, so that little is left to encode when the backup ends).
/// A record goes into a pack only after the transaction holding its versions has committed
/// (`committed()`): a pack sealed before that could outlive a crash that loses the transaction, and
/// describe versions under sequence numbers the catalog will give to others. Used by the
/// committer's thread only.
final class MetadataStream: VersionRecords {
    /// The catalog's highest sequence before the backup: the stream describes every version after it.
    let startSequence: Int64
    private let folderPath: [UInt8]
    static let recordSize = 1 << 20

    init(writer: VaultWriter, folderPath: [UInt8], startSequence: Int64) {
        self.folderPath = folderPath
        self.startSequence = startSequence
        super.init(writer: writer, recordSize: MetadataStream.recordSize, holdUntilCommitted: true)
    }

    /// A version just inserted (with its sequence), and its block list when it has one.
    func add(_ version: FileVersion, blockList: [UInt8]?) throws {
        try add(version, folder: folderPath, blockList: { blockList })
    }
}
