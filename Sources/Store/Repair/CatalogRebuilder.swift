import Chunker
#if canImport(Glibc)
import Glibc
#endif

/// Builds a complete catalog from the packs alone: the block index from every pack's footer, and
/// folders, names, versions (with their original sequence numbers), block lists and snapshots from
/// the records in metadata packs.
///
/// A replica's versions keep their origins from the origins its records hold. Records leave out
/// the origin of a version numbered as its master numbered it (all of a replica that follows one
/// master; all before origins were kept): those versions get the master as their origin, under
/// their own sequence, as the migration to schema 8 gives them. The master is `masterDevice`, read
/// from the old catalog when it still opens; when it is unknown they stay without, and the next
/// push from the master claims them (`ReplicaWriter.checkMaster`).
struct CatalogRebuilder {
    let configuration: VaultConfiguration
    let storage: any BlobStorage
    /// Phase "rebuilding catalog": the packs whose footers were read, of all.
    var progress = OperationProgress()
    /// The master a receive-only vault followed, as its old catalog recorded it; nil when unknown.
    var masterDevice: String? = nil

    /// The master recorded in the catalog at `path` (read-only, best effort): nil when it names
    /// none or cannot be opened as this vault's catalog.
    static func masterDevice(ofCatalogAt path: String, vaultID: String) -> String? {
        guard FileSystem.exists(path), let catalog = try? Catalog(path: path, writable: false, readOnly: true, vaultID: vaultID) else {
            return nil
        }
        defer { catalog.close() }
        return (try? catalog.settingText("master_device")) ?? nil
    }

    struct Result {
        var packs = 0
        var snapshots = 0
        var versions = 0
        var dictionaries = 0
        /// Packs whose footer could not be read, with the reason.
        var unreadable: [String] = []
    }

    /// Writes the new catalog to `path` (which must not exist) and closes it.
    func build(at path: String) throws -> Result {
        var result = Result()
        let catalog = try Catalog(path: path, vaultID: configuration.vaultID)
        try catalog.registerDevice(deviceID: configuration.deviceID, shortID: configuration.shortDeviceID)
        var metadataPacks: [SealedPack] = []
        try catalog.transaction {
            let names = try storage.packNames().sorted()
            progress.enter("rebuilding catalog", items: Int64(names.count))
            for name in names {
                defer { progress.add(items: 1) }
                do {
                    let pack = try storage.sealedPack(named: name)
                    try catalog.insertPack(pack)
                    result.packs += 1
                    if pack.kind == .metadata { metadataPacks.append(pack) }
                } catch {
                    result.unreadable.append("pack \(name): \(error)")
                    // Its footer is lost: what its body still holds is recorded (repair then copies it
                    // into a new pack), rather than all of it dropped.
                    if let found = try? PackScanner(storage: storage, chunker: configuration.chunker).scan(name) {
                        try catalog.insertPack(found)
                        result.unreadable[result.unreadable.count - 1] += "; found \(found.entries.count) blocks in its body"
                        if found.kind == .metadata { metadataPacks.append(found) }
                    }
                }
            }
        }

        var versions: [Int64: (folder: [UInt8], version: FileVersion)] = [:]
        var origins: [Int64: VersionOrigin] = [:]   // by local sequence
        var snapshots: [String: Snapshot] = [:]   // by id: a rewritten record repeats an earlier one
        var lists: [BlockID: MetadataRecord.BlockListRecord] = [:]
        var forgottenSnapshots = Set<String>()
        var forgottenRanges: [ClosedRange<Int64>] = []
        var dictionaries: [UInt32: BlockID] = [:]
        // Metadata records are never compressed with a dictionary.
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())
        for pack in metadataPacks {
            for entry in pack.entries {
                let bytes: [UInt8]
                do { bytes = Array(try reader.read(BlockLocation(pack: pack.name, entry: entry))) } catch {
                    result.unreadable.append("metadata record \(entry.id) in pack \(pack.name): \(error)")
                    continue
                }
                switch bytes.first {
                case MetadataRecord.versionsKind:
                    let record = try MetadataRecord.decodeVersions(bytes)
                    for item in record.versions { versions[item.version.sequence] = item }
                    for list in record.blockLists { lists[list.hash] = list }
                    origins.merge(record.origins) { first, _ in first }
                case MetadataRecord.snapshotKind:
                    var (snapshot, _) = try MetadataRecord.decodeSnapshot(bytes)
                    snapshot.metadataID = entry.id
                    if snapshots[snapshot.id] == nil { snapshots[snapshot.id] = snapshot }
                case MetadataRecord.forgetKind:
                    let record = try MetadataRecord.decodeForget(bytes)
                    forgottenSnapshots.formUnion(record.snapshots)
                    forgottenRanges += record.sequences
                case MetadataRecord.dictionaryKind:
                    do {
                        let dictionary = try MetadataRecord.decodeDictionary(bytes)
                        // Two records of one dictionary (a replica sent it again) are the same bytes.
                        if dictionaries[dictionary.id] == nil { dictionaries[dictionary.id] = entry.id }
                    } catch {
                        result.unreadable.append("dictionary record \(entry.id) in pack \(pack.name): \(error)")
                    }
                default:
                    result.unreadable.append("metadata record \(entry.id) in pack \(pack.name) has an unknown kind")
                }
            }
        }

        // What `forget` removed stays removed.
        for id in forgottenSnapshots { snapshots[id] = nil }
        for range in forgottenRanges {
            if range.count < versions.count {
                for sequence in range { versions[sequence] = nil }
            } else {
                versions = versions.filter { !range.contains($0.key) }
            }
        }
        try catalog.transaction {
            for list in lists.values { try catalog.insertBlockList(hash: list.hash, ids: list.ids, size: list.size) }
            var resolvers: [[UInt8]: NameResolver] = [:]
            var folderIDs: [[UInt8]: Int64] = [:]
            func folderID(_ path: [UInt8]) throws -> Int64 {
                if let known = folderIDs[path] { return known }
                let id = try catalog.folderID(path: path, create: true)!
                folderIDs[path] = id
                resolvers[path] = NameResolver(catalog: catalog, folder: id)
                return id
            }
            let master = configuration.receiveOnly ? masterDevice : nil
            for sequence in versions.keys.sorted() {
                var (folderPath, version) = versions[sequence]!
                version.origin = origins[sequence] ?? master.map { VersionOrigin(device: $0, sequence: sequence) }
                _ = try folderID(folderPath)
                let nameID = try resolvers[folderPath]!.nameID(for: version.path, isDirectory: version.type == .directory)
                try catalog.insertVersion(version, nameID: nameID, keepSequence: true)
            }
            try catalog.raiseSeenSequences()
            if let master { try catalog.setSettingText("master_device", master) }
            for snapshot in snapshots.values.sorted(by: { ($0.time, $0.id) < ($1.time, $1.id) }) {
                try catalog.insertSnapshot(snapshot, folder: try folderID(snapshot.folderPath))
            }
            try catalog.setSetting("metadata_sequence", snapshots.values.map(\.sequence).max() ?? 0)
            for (id, record) in dictionaries { try catalog.recordDictionary(id: id, record: record) }
            try catalog.recordForgottenSnapshots(forgottenSnapshots.sorted())
        }
        result.versions = versions.count
        result.dictionaries = dictionaries.count
        result.snapshots = snapshots.count
        try catalog.checkpointAndClose()
        return result
    }
}
