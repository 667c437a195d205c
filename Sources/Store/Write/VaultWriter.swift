import Chunker
import Synchronization

/// The one owner of a vault's crash-safe write order:
///
///     blocks → sealed packs (fsync'd, read back and verified by `PackWriter`)
///            → the packs' index rows (catalog `packs`/`blocks`)
///            → the caller's rows (versions, forget deletions, snapshot…), in the same transaction
///
/// Every writer of a vault (backup, replica, prune, forget, repair's salvage, the metadata and
/// dictionary records) stores through one of these, so the catalog never refers to a block before
/// the pack holding it is durable. A crash at any point leaves at worst sealed packs that nothing
/// records, which the next writer adopts (`Vault.recoverInterruptedWrites`) or removes.
///
/// Created from a writable vault whose write lock the caller holds for the writer's whole life.
/// Pack writers it hands out are thread-safe; the record and commit methods are for one thread at
/// a time (a backup's committer thread, then the thread that commits the snapshot).
final class VaultWriter: @unchecked Sendable {
    // @unchecked: the writers and stored records are guarded by `state`; `encoder` and the
    // catalog are used only by the one thread that records or commits at a time (see above).
    let vault: Vault
    /// Packs sealed by the writers `packs(_:)` hands out, not yet recorded by `commit`.
    private let sealed = SealedPackList()
    private struct State {
        var writers: [PackFormat.Kind: PackWriter] = [:]
        var callerRecorded: [PackWriter] = []
        /// Records stored through this writer (not yet in the catalog until committed).
        var storedRecords = Set<BlockID>()
    }
    private let state = Mutex(State())
    private let encoder: BlockEncoder

    init(vault: Vault) {
        self.vault = vault
        encoder = BlockEncoder(level: vault.configuration.compression.level)
    }

    /// The pack writer for `kind` (one per kind, created at first use). The packs it seals are
    /// recorded by the next `commit`.
    func packs(_ kind: PackFormat.Kind) -> PackWriter {
        state.withLock { state in
            if let writer = state.writers[kind] { return writer }
            let writer = makePackWriter(kind: kind, sealInBackground: false) { [sealed] pack in sealed.append(pack) }
            state.writers[kind] = writer
            return writer
        }
    }

    /// A data pack writer whose sealed packs go to `onSealed` instead of the next `commit`: for a
    /// backup, whose committer records each pack in its own transaction as it arrives, before the
    /// versions that need it. With `sealInBackground`, no worker waits for a pack's fsync (see
    /// `PackWriter`). `seal()` flushes it too; `abandon()` abandons it.
    func dataPacks(sealInBackground: Bool, onSealed: @escaping @Sendable (SealedPack) throws -> Void) -> PackWriter {
        let writer = makePackWriter(kind: .data, sealInBackground: sealInBackground, onSealed: onSealed)
        state.withLock { $0.callerRecorded.append(writer) }
        return writer
    }

    /// A pack writer that seals exactly one pack of `kind` for `body`, then returns it sealed: for
    /// a record that must be durable on its own before anything uses it (a dictionary).
    func sealAlone(_ kind: PackFormat.Kind, _ body: (PackWriter) throws -> Void) throws -> SealedPack {
        let alone = SealedPackList()
        let writer = makePackWriter(kind: kind, sealInBackground: false) { pack in alone.append(pack) }
        do {
            try body(writer)
            try writer.flush()
        } catch {
            writer.abandon()
            for pack in alone.take() { try? vault.storage.deletePack(named: pack.name) }
            throw error
        }
        let packs = alone.take()
        guard packs.count == 1 else {
            for pack in packs { try? vault.storage.deletePack(named: pack.name) }
            throw StoreError.catalog("a pack of its own was expected, \(packs.count) were sealed")
        }
        return packs[0]
    }

    /// The only place a `PackWriter` is made: every pack of a vault goes through this writer.
    private func makePackWriter(kind: PackFormat.Kind, sealInBackground: Bool,
                                onSealed: @escaping @Sendable (SealedPack) throws -> Void) -> PackWriter {
        PackWriter(kind: kind, storage: vault.storage, sealInBackground: sealInBackground, onSealed: onSealed)
    }

    // MARK: Metadata records

    /// A record hashed and, unless stored already (through this writer, or in the catalog),
    /// compressed; not yet in a pack (`storeRecord(_ prepared:)`).
    struct PreparedRecord {
        let id: BlockID
        /// The stored form, its plaintext length and encoding; nil when the record needs no storing.
        let encoded: (bytes: [UInt8], rawLength: Int, encoding: PackFormat.Encoding)?
    }

    /// Hashes and compresses a metadata record (see `PreparedRecord`); stores nothing yet.
    func prepareRecord(_ bytes: [UInt8]) throws -> PreparedRecord {
        let id = SHA256Hasher.hash(bytes)
        guard state.withLock({ $0.storedRecords.insert(id).inserted }), try !vault.catalog.hasBlock(id) else {
            return PreparedRecord(id: id, encoded: nil)
        }
        return try bytes.withUnsafeBytes { plain in
            let (encoded, encoding) = try encoder.encode(plain, id: id)
            return PreparedRecord(id: id, encoded: (Array(encoded), plain.count, encoding))
        }
    }

    /// Adds a prepared record to the open metadata pack (nothing when it needed no storing).
    func storeRecord(_ prepared: PreparedRecord) throws {
        guard let (bytes, rawLength, encoding) = prepared.encoded else { return }
        let packs = packs(.metadata)
        try bytes.withUnsafeBytes { try packs.append(id: prepared.id, stored: $0, rawLength: rawLength, encoding: encoding) }
    }

    /// Stores a metadata record (once: one stored already is not stored again) in a metadata pack,
    /// recorded by the next `commit`, and returns its ID.
    @discardableResult
    func storeRecord(_ bytes: [UInt8]) throws -> BlockID {
        let prepared = try prepareRecord(bytes)
        try storeRecord(prepared)
        return prepared.id
    }

    // MARK: The write order

    /// Seals every open pack of every writer handed out, waits for background seals, and returns
    /// the packs sealed and not yet recorded (they stay pending until `commit` or `abandon`).
    /// Throws the first failure of any seal.
    @discardableResult
    func seal() throws -> [SealedPack] {
        let (writers, callerRecorded) = state.withLock { (Array($0.writers.values), $0.callerRecorded) }
        for writer in writers + callerRecorded { try writer.flush() }
        let packs = sealed.take()
        for pack in packs { sealed.append(pack) }
        return packs
    }

    /// Seals what is open (`seal()`), then runs one catalog transaction that first records the
    /// sealed packs' index rows (with `replacingLocations`, their blocks point at the new packs:
    /// repacking), then the caller's rows in `body`. Returns what `body` returns.
    ///
    /// When sealing fails nothing is recorded and the packs stay pending (`abandon()` removes them).
    /// When the transaction fails (`body` throws, or the commit itself) it is rolled back and the
    /// packs it held are no longer pending: they are sealed and verified but recorded by nothing,
    /// and the next writer adopts them (`Vault.recoverInterruptedWrites`). They are never removed
    /// here, since a pack whose transaction's outcome is unknown must not be.
    @discardableResult
    func commit<T>(replacingLocations: Bool = false, _ body: (Catalog) throws -> T) throws -> T {
        try seal()
        let packs = sealed.take()
        // Committed, the records are in the catalog (`prepareRecord` finds them there); rolled
        // back, they must be stored again.
        state.withLock { $0.storedRecords.removeAll() }
        let catalog = vault.catalog
        return try catalog.transaction {
            for pack in packs { try catalog.insertPack(pack, replacingLocations: replacingLocations) }
            return try body(catalog)
        }
    }

    /// For an owner that failed before its commit: discards open packs, waits for seals in flight,
    /// and removes the packs sealed but never recorded (packs handed to a `dataPacks` caller are
    /// the caller's: they stay for the next writer to adopt).
    func abandon() {
        let (writers, callerRecorded) = state.withLock { (Array($0.writers.values), $0.callerRecorded) }
        for writer in writers + callerRecorded { writer.abandon() }
        for pack in sealed.take() { try? vault.storage.deletePack(named: pack.name) }
    }
}
