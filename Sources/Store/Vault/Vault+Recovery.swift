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
        try storage.removeTemporaryFiles()
        for name in try FileSystem.listDirectory(Array(path.utf8)) {
            let text = String(decoding: name, as: UTF8.self)
            if text.hasPrefix(".tmp-") && text.hasSuffix("-config.json") { unlink("\(path)/\(text)") }
        }
        try finishPendingDeletions()
        let known = try Set(catalog.packNames())
        let present = try storage.list()
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

    /// Deletes the packs an interrupted prune had already unreferenced, then forgets the list.
    func finishPendingDeletions() throws {
        let pending = try catalog.pendingDeletions()
        guard !pending.isEmpty else { return }
        for name in pending { try storage.remove(name: name) }
        try FileSystem.fsyncDirectory(storage.directory)
        try catalog.transaction { try catalog.database.execute("DELETE FROM pending_deletions") }
    }
}
