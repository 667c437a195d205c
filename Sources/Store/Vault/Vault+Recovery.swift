#if canImport(Glibc)
import Glibc
#endif

extension Vault {
    /// Cleans up after a writer that was killed: deletes temporary pack files (never referenced by
    /// anything) and temporary copies of config.json (its format being raised), and records packs that were sealed but not yet in the catalog, so their blocks are
    /// reused instead of stored again. Packs the catalog records but the disk no longer has are
    /// dropped from the catalog, their blocks remembered as missing so that this backup stores them
    /// again from the source. Call only while holding the write lock. Returns the number of packs adopted.
    @discardableResult
    func recoverInterruptedWrites() throws -> Int {
        guard !readOnly else { throw StoreError.invalidVault("internal: recovery on a vault opened read-only") }
        try storage.removeIncompleteUploads(prefix: PackKey.prefix)
        for name in try FileSystem.listDirectory(Array(path.utf8)) {
            let text = String(decoding: name, as: UTF8.self)
            if text.hasPrefix(".tmp-") && text.hasSuffix("-config.json") { unlink("\(path)/\(text)") }
        }
        // Adopting the packs of a catalog that went back in time would build new history over
        // sequence numbers the packs already use, and lose the snapshots they record.
        if let stale = try Vault.newerSnapshot(catalog: catalog, storage: storage) {
            throw StoreError.invalidVault("\(stale); run 'blockvault repair --apply' to rebuild it from the packs")
        }
        try finishPendingDeletions()
        let known = try Set(catalog.packNames())
        let present = try storage.packNames()
        let lost = known.subtracting(present)
        if !lost.isEmpty { _ = try catalog.transaction { try catalog.dropLostPacks(lost.sorted()) } }
        var adopted = 0
        for name in present where !known.contains(name) {
            guard let pack = try? storage.sealedPack(named: name) else { continue }   // damaged: left for check/prune
            try catalog.transaction { try catalog.insertPack(pack) }
            adopted += 1
        }
        return adopted
    }

    /// Why `catalog` is older than the packs, or nil: a sealed metadata pack it does not record holds
    /// a snapshot beyond the catalog's last sequence (a stale WAL replayed, an older copy of
    /// catalog.db put back). A killed backup leaves at most a snapshot record whose versions were
    /// all committed, so within that sequence. Reads only unrecorded metadata packs.
    static func newerSnapshot(catalog: Catalog, storage: any BlobStorage) throws -> String? {
        let known = Set(try catalog.packNames()).union(try catalog.pendingDeletions())
        let unrecorded = try storage.packNames().filter { !known.contains($0) }.sorted()
        guard !unrecorded.isEmpty else { return nil }
        let last = try catalog.maximumSequence()
        let reader = PackReader(storage: storage, dictionaries: DictionarySet())   // records use no dictionary
        for name in unrecorded {
            guard let pack = try? storage.sealedPack(named: name), pack.kind == .metadata else { continue }
            for entry in pack.entries {
                guard let bytes = try? Array(reader.read(BlockLocation(pack: name, entry: entry))),
                      bytes.first == MetadataRecord.snapshotKind,
                      let (snapshot, _) = try? MetadataRecord.decodeSnapshot(bytes), snapshot.sequence > last else { continue }
                return "catalog.db is older than the packs: metadata pack \(name) records snapshot \(snapshot.id) at sequence \(snapshot.sequence), beyond the catalog's \(last) (a stale catalog.db-wal, or an older copy of catalog.db?)"
            }
        }
        return nil
    }

    /// Deletes the packs an interrupted prune had already unreferenced, then forgets the list.
    func finishPendingDeletions() throws {
        let pending = try catalog.pendingDeletions()
        guard !pending.isEmpty else { return }
        for name in pending { try storage.deletePack(named: name) }
        try storage.syncPackDeletions()
        try catalog.transaction { try catalog.clearPendingDeletions() }
    }
}
