import Chunker
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `repair` does beyond the default dry run.
public struct RepairOptions: Sendable {
    /// Act; without it nothing is changed and the report says what would be done.
    public var apply = false
    /// Also read every block, so damaged (not only missing) blocks are found and dropped.
    public var readData = false

    public init() {}
}

public struct RepairReport: Sendable {
    /// What was done (or, in a dry run, what would be done), one line each.
    public var actions: [String] = []
    /// File versions that lose data, one line per damaged block (from `check`'s wording).
    public var broken: [String] = []
    public var applied = false
    public var rebuilt = false
}

/// Heals a vault: rebuilds `catalog.db` from the packs when it is missing or damaged, records packs
/// that were sealed but never recorded, and drops references to blocks that are gone (their packs
/// are missing, unreadable, or — with `readData` — hold bytes that do not match), remembering those
/// blocks as missing so the next backup stores them again from the source.
///
/// Takes the vault's write lock. A rebuilt catalog is written beside the old one and renamed over
/// it, so killing repair at any moment leaves the old catalog, or the new one, never a mix; packs
/// are never modified.
public struct Repair {
    /// The vault's directory: repair opens the vault itself, after rebuilding its catalog if need be.
    let vaultPath: String
    let options: RepairOptions
    /// While `run` runs: phases "rebuilding catalog" (packs whose footers were read, of all),
    /// "checking packs" (of those recorded), "salvaging", with `readData` "reading packs" (packs
    /// read and verified, and their bytes), and "finishing".
    public let progress: OperationProgress

    public init(vaultPath: String, options: RepairOptions = RepairOptions(), progress: OperationProgress = OperationProgress()) {
        self.vaultPath = vaultPath
        self.options = options
        self.progress = progress
    }

    /// Repairs the vault (or, without `apply`, reports what it would do). Throws when the vault
    /// cannot be locked or read, or a block cannot be read for a disk error (nothing is changed then).
    public func run() throws -> RepairReport {
        let configuration = try Vault.readConfiguration(at: vaultPath)
        let lock = try VaultLock(directory: "\(vaultPath)/locks")
        defer { withExtendedLifetime(lock) {} }
        var report = RepairReport()
        report.applied = options.apply
        let catalogPath = Vault.catalogPath(vaultPath)

        if let damage = try Repair.diagnose(catalogPath, vaultID: configuration.vaultID) ?? Repair.staleness(vaultPath, vaultID: configuration.vaultID) {
            report.rebuilt = true
            try Repair.rebuild(vaultPath: vaultPath, configuration: configuration, reason: damage, apply: options.apply,
                               progress: progress, report: &report)
            if !options.apply { return report }
        }

        let vault = try Vault(path: vaultPath)
        let recordedPacks = try vault.catalog.packs()
        let onDisk = Set(try vault.storage.packNames())
        var lost: [String] = []
        var damagedPacks: [(id: Int64, name: String, kind: Int, size: Int)] = []
        progress.enter("checking packs", items: Int64(recordedPacks.count))
        for pack in recordedPacks {
            defer { progress.add(items: 1) }
            if !onDisk.contains(pack.name) {
                lost.append(pack.name)
                report.actions.append("pack \(pack.name) is missing: drop the references to its blocks")
            } else {
                do { _ = try vault.storage.sealedPack(named: pack.name) } catch {
                    damagedPacks.append(pack)
                    report.actions.append("pack \(pack.name) is unreadable (\(error)): salvage the blocks that still verify")
                }
            }
        }
        let recordedNames = Set(recordedPacks.map(\.name))
        let unrecorded = onDisk.subtracting(recordedNames).sorted()
        for name in unrecorded {
            let readable = (try? vault.storage.sealedPack(named: name)) != nil
            report.actions.append(readable ? "pack \(name) is not recorded: adopt it"
                                           : "pack \(name) is damaged and not recorded: leave it (garbage that prune deletes)")
        }

        // A pack whose footer cannot be read may still hold good blocks: the catalog knows where
        // each one is. Those that read back and verify are copied into new packs; only the rest go.
        if !damagedPacks.isEmpty { progress.enter("salvaging", items: nil) }
        let salvage = try Repair.salvageBlocks(of: damagedPacks, vault: vault, apply: options.apply, report: &report)
        lost += damagedPacks.map(\.name)

        let unloadable = vault.dictionaries.failures
        for (id, reason) in unloadable {
            report.actions.append("zstd dictionary \(id) cannot be loaded (\(reason)): forget it; the blocks compressed with it cannot be read"
                                  + (options.readData ? " and are dropped" : " (repair --read-data drops them)"))
        }

        var corrupt: [(id: BlockID, pack: Int64)] = []
        if options.readData {
            let verifier = PackVerifier(storage: vault.storage, dictionaries: vault.dictionaries)
            let toRead = recordedPacks.filter { onDisk.contains($0.name) && !lost.contains($0.name) }
            progress.enter("reading packs", items: Int64(toRead.count), bytes: Int64(toRead.reduce(0) { $0 + $1.size }))
            for pack in toRead {
                let outcome = verifier.verify(pack.name, referenced: Set(try vault.catalog.entries(ofPack: pack.id).keys))
                progress.add(items: 1, bytes: outcome.bytes)
                for (id, why) in outcome.damaged.sorted(by: { $0.key < $1.key }) {
                    corrupt.append((id, pack.id))
                    report.actions.append("block \(id.hex.prefix(16)) (\(why)): drop the reference to it")
                }
            }
        }

        // Which versions lose data: the blocks of lost packs, corrupt blocks, and blocks recorded
        // versions need that no pack has (after a rebuild, those of packs lost earlier).
        progress.enter("finishing")
        var gone = Set(corrupt.map(\.id))
        for pack in recordedPacks where lost.contains(pack.name) {
            gone.formUnion(try vault.catalog.entries(ofPack: pack.id).keys)
        }
        gone.subtract(salvage.saved)
        let alreadyMissing = try vault.catalog.missingBlocks()
        let absent = try vault.catalog.absentReferencedBlocks().subtracting(alreadyMissing)
        if !absent.isEmpty {
            report.actions.append("\(absent.count) blocks that recorded versions need are in no pack: remember them as missing, so a backup stores them again where the source still has them")
        }
        gone.formUnion(absent)
        report.broken += try Repair.describeBroken(gone, vault: vault)

        if options.apply {
            // Salvaged blocks point at their new copies first (the writer records its packs with
            // `replacingLocations`); then what still points at a lost pack goes.
            try (salvage.writer ?? VaultWriter(vault: vault)).commit(replacingLocations: true) { catalog in
                try catalog.dropLostPacks(lost)
                for (id, _) in unloadable { try catalog.forgetDictionary(id: id) }
                try catalog.dropBlocks(corrupt)
                try catalog.rememberMissing(absent)
            }
            if !unrecorded.isEmpty { try vault.recoverInterruptedWrites() }
        }
        if report.actions.isEmpty { report.actions.append("nothing to repair") }
        return report
    }

    /// What `salvageBlocks` saved: the blocks that verified, and (applied) the writer holding the
    /// sealed packs they were copied into, which the repair's commit records.
    struct Salvage {
        var saved = Set<BlockID>()
        var writer: VaultWriter?
    }

    /// Reads every block the catalog places in `packs` (whose footers are damaged) and, when
    /// `apply`, copies those that verify into new sealed packs of the same kind (not yet recorded).
    /// A block that is gone (short read, does not decompress or match its hash) is left behind; an
    /// I/O error stops the repair with nothing changed, since a read error is never a deletion.
    static func salvageBlocks(of packs: [(id: Int64, name: String, kind: Int, size: Int)], vault: Vault, apply: Bool,
                              report: inout RepairReport) throws -> Salvage {
        var salvage = Salvage()
        guard !packs.isEmpty else { return salvage }
        // The copies are recorded by the repair's commit, with `replacingLocations`.
        let writer = VaultWriter(vault: vault)
        do {
            for pack in packs {
                let entries = Array(try vault.catalog.entries(ofPack: pack.id).values)
                var frameBlocks: [Int: Int] = [:]
                for entry in entries where entry.isShared { frameBlocks[entry.offset, default: 0] += 1 }
                var failed = Set<BlockID>()
                let stopOnIOError = { (entry: PackEntry, error: StoreError) throws in
                    if case .io = error {
                        throw StoreError.invalidVault("repair stopped, nothing was changed: cannot read block \(entry.id.hex.prefix(16)) in pack \(pack.name) (\(error)); check the disk, then run repair again")
                    }
                    failed.insert(entry.id)
                }
                if apply {
                    let kind = PackFormat.Kind(rawValue: UInt8(truncatingIfNeeded: pack.kind)) ?? .data
                    try PackCopier(vault: vault, writer: writer.packs(kind)).copy(entries, of: pack.name, frameBlocks: frameBlocks,
                                                                                  unreadable: stopOnIOError)
                } else {
                    let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
                    for entry in entries {
                        do { _ = try reader.read(BlockLocation(pack: pack.name, entry: entry)) } catch { try stopOnIOError(entry, error) }
                    }
                }
                let saved = entries.map(\.id).filter { !failed.contains($0) }
                salvage.saved.formUnion(saved)
                report.actions.append("pack \(pack.name): \(apply ? "salvaged" : "would salvage") \(saved.count) of \(entries.count) blocks"
                                      + (failed.isEmpty ? "" : "; \(failed.count) are gone"))
            }
            _ = try writer.seal()
            if apply { salvage.writer = writer }
        } catch {
            writer.abandon()
            throw error
        }
        return salvage
    }

    /// Why the catalog must be rebuilt, or nil when it opens and passes SQLite's integrity check.
    /// A catalog (or WAL) of another vault than `vaultID` is refused at open, so it is rebuilt too.
    /// Opened read-only: nothing of what is found is written back (a foreign WAL is never
    /// checkpointed into the catalog).
    /// An I/O error reading the catalog stops repair (thrown): the disk's problem is no reason to
    /// replace the catalog.
    static func diagnose(_ path: String, vaultID: String) throws -> String? {
        guard FileSystem.exists(path) else { return "catalog.db is missing" }
        do {
            let catalog = try Catalog(path: path, writable: false, readOnly: true, vaultID: vaultID)
            switch try catalog.integrity() {
            case .intact:
                return nil
            case .unreadable(let diskError):
                throw StoreError.catalog("repair stopped, nothing was changed: \(diskError)")
            case .damaged(let lines):
                return "catalog.db is damaged (\(lines.prefix(2).joined(separator: "; ")))"
            }
        } catch where Database.isDiskError(error) {
            throw error
        } catch {
            return "catalog.db cannot be opened (\(error))"
        }
    }

    /// Why the catalog is older than the packs, or nil (see `Vault.newerSnapshot`): a rebuild from
    /// the packs brings back what it lost. Read-only.
    static func staleness(_ vaultPath: String, vaultID: String) throws -> String? {
        let catalog = try Catalog(path: Vault.catalogPath(vaultPath), writable: false, readOnly: true, vaultID: vaultID)
        return try Vault.newerSnapshot(catalog: catalog, storage: LocalBlobStorage(root: vaultPath))
    }

    private static func rebuild(vaultPath: String, configuration: VaultConfiguration, reason: String, apply: Bool,
                                progress: OperationProgress, report: inout RepairReport) throws {
        let catalogPath = Vault.catalogPath(vaultPath)
        let building = catalogPath + ".rebuild"
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(building + suffix) }
        let storage = LocalBlobStorage(root: vaultPath)
        var rebuilder = CatalogRebuilder(configuration: configuration, storage: storage, progress: progress)
        rebuilder.masterDevice = CatalogRebuilder.masterDevice(ofCatalogAt: catalogPath, vaultID: configuration.vaultID)
        let result = try rebuilder.build(at: building)
        let summary = "\(result.snapshots) snapshots and \(result.versions) file versions"
            + (result.dictionaries > 0 ? " and \(result.dictionaries) zstd dictionar\(result.dictionaries == 1 ? "y" : "ies")" : "")
            + " from \(result.packs) packs"
        report.actions.append("\(reason): \(apply ? "rebuilt" : "would rebuild") it with \(summary)")
        for problem in result.unreadable { report.actions.append("skipped \(problem)") }
        guard apply else {
            for suffix in ["", "-wal", "-shm"] { unlink(building + suffix) }
            return
        }
        // The old catalog (if any) stays reachable as catalog.db.damaged (a hard link), with its WAL
        // moved aside as catalog.db.damaged-wal (which SQLite applies when that copy is opened): it
        // must not be applied to the new one. Then one rename replaces it: at every moment there is
        // a catalog.db, the old one or the new one.
        for suffix in ["", "-wal", "-shm"] { unlink(catalogPath + ".damaged" + suffix) }
        if FileSystem.exists(catalogPath) { _ = link(catalogPath, catalogPath + ".damaged") }
        if rename(catalogPath + "-wal", catalogPath + ".damaged-wal") != 0 && errno != ENOENT {
            throw StoreError.system("cannot move aside", catalogPath + "-wal")
        }
        unlink(catalogPath + "-shm")
        try FileSystem.fsyncDirectory(vaultPath)
        let descriptor = open(building, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            try FileSystem.fsyncOrThrow(descriptor, path: building)
            close(descriptor)
        }
        guard rename(building, catalogPath) == 0 else { throw StoreError.system("cannot rename into place", catalogPath) }
        try FileSystem.fsyncDirectory(vaultPath)
    }

    private static func describeBroken(_ blocks: Set<BlockID>, vault: Vault) throws -> [String] {
        let users = try vault.versionsUsing(blocks)
        return users.keys.sorted().map { id in "block \(id.hex.prefix(16)) is gone; it breaks \(users[id]!.joined(separator: ", "))" }
    }
}
