import Chunker

extension Vault {
    /// Remembers copies of blocks found damaged (by `check --read-data` or a restore) as missing
    /// (`Catalog.markDamaged`), so that the next backup that meets them stores them again. A vault
    /// opened read-only (check and restore are) is written through a connection of its own, when
    /// the disk allows it. Best effort: returns whether the copies were marked; a vault that cannot
    /// be written is only reported on.
    public func markDamaged(_ copies: [(id: BlockID, pack: String)]) -> Bool {
        guard !copies.isEmpty else { return false }
        do {
            if !readOnly && catalog.isWritable {
                try catalog.markDamaged(copies)
            } else {
                let writer = try Catalog(path: Vault.catalogPath(path), vaultID: configuration.vaultID)
                try writer.markDamaged(copies)
            }
            return true
        } catch {
            return false
        }
    }
}
