import Chunker

extension Catalog {
    /// Opens a write transaction that stays open across calls, for a writer that batches many
    /// changes into one (the backup's committer): the write lock is taken at once (a writer never
    /// fails half-way on contention) and, like every transaction of `transaction`, it records the
    /// vault in the write-ahead log (`stampVault`). End it with `commitTransaction` or
    /// `rollbackTransaction`. Throws when the lock cannot be had or the stamp cannot be written
    /// (then nothing is left open).
    func beginTransaction() throws(StoreError) {
        try database.execute("BEGIN IMMEDIATE")
        do throws(StoreError) {
            try stampVault()
        } catch {
            rollbackTransaction()
            throw error
        }
    }

    /// Commits the transaction `beginTransaction` opened; throws when SQLite cannot (the
    /// transaction is then still open: roll it back).
    func commitTransaction() throws(StoreError) {
        try database.execute("COMMIT")
    }

    /// Rolls back the open transaction, if any (never throws: there may be none left after a
    /// failed statement), and drops cached device rows, which may name rows that are gone with it.
    func rollbackTransaction() {
        try? database.execute("ROLLBACK")
        devices.forgetAll()
    }

    /// Forgets every pack waiting to be deleted, once their files are gone
    /// (`Vault.finishPendingDeletions`). Idempotent. Run inside `transaction`.
    public func clearPendingDeletions() throws(StoreError) {
        try database.execute("DELETE FROM pending_deletions")
    }

    /// Remembers blocks as missing (no pack holds them), so that the next backup that meets them
    /// stores them again. Idempotent: a block already remembered stays once. Run inside `transaction`.
    public func rememberMissing(_ ids: some Sequence<BlockID>) throws(StoreError) {
        let remember = try database.prepare("INSERT OR IGNORE INTO missing_blocks(hash) VALUES(?)")
        for id in ids {
            try remember.bind(id, at: 1)
            try remember.step()
        }
    }

    /// Copies everything in the write-ahead log into the catalog file, empties the log, and closes
    /// the connection, so the file alone is the whole catalog (one that is then renamed into place,
    /// as repair does with a rebuilt one). The catalog cannot be used afterwards.
    public func checkpointAndClose() throws(StoreError) {
        try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        database.close()
    }

    /// Closes the connection now rather than when the catalog is released (a catalog opened only
    /// to read one setting, say), without a checkpoint of its own. Idempotent; the catalog cannot
    /// be used afterwards (its calls throw).
    public func close() {
        database.close()
    }
}
