import Chunker
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct PruneOptions: Sendable {
    /// Repack partly used packs only when their unused bytes exceed this percentage of all data.
    public var maxUnusedPercent: Double = 5
    /// Report only; change nothing.
    public var dryRun = false
    public var lockWaitSeconds: Double = 0

    public init() {}
}

public struct PruneReport: Sendable {
    public var blocksUsed = 0
    public var blocksUnused = 0
    public var packsDeleted = 0
    public var packsRepacked = 0
    public var packsWritten = 0
    /// zstd dictionaries that no block left in the vault uses, removed with their records.
    public var dictionariesRemoved = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    /// Always empty: a block that cannot be copied while repacking stops the prune instead (a read
    /// error is never a deletion). Kept so that the report keeps its shape.
    public var damaged: [String] = []
    public var seconds: Double = 0
}

/// Reclaims space: marks every block reachable from a recorded file version, deletes packs with
/// nothing live, and repacks partly used packs when enough of the vault is unused (restic's rule:
/// more than `maxUnusedPercent`; small packs only when there are at least 10).
///
/// Order makes a crash safe: new packs are sealed first; one transaction then points the catalog
/// at them, drops unused rows and lists the doomed packs in `pending_deletions`; only then are the
/// files deleted. A crash leaves garbage, never a dangling reference, and the next prune (or
/// backup) finishes the deletions. Holds the write lock and locks out readers while deleting.
public enum Prune {
    /// One data pack's use, for the sweep plan.
    private struct PackUse {
        var id: Int64
        var name: String
        var size: Int
        var liveBlocks = 0
        var deadBlocks = 0
        var deadBytes = 0
        var live: [PackEntry] = []
        /// For a pack to repack: how many blocks (live or dead) each shared frame holds, by offset.
        var frameBlocks: [Int: Int] = [:]
    }

    public static func run(vault: Vault, options: PruneOptions = PruneOptions()) throws -> PruneReport {
        let started = FileSystem.monotonicSeconds()
        let writeLock = try vault.lockForWriting(waitSeconds: options.lockWaitSeconds)
        defer { withExtendedLifetime(writeLock) {} }
        // Repacking copies blocks after decoding them: with a dictionary that cannot be loaded, every
        // block compressed with it would look damaged and be dropped.
        if let (id, reason) = vault.dictionaries.failures.first {
            throw StoreError.invalidVault("prune refuses to run: zstd dictionary \(id) cannot be loaded (\(reason)); run 'blockvault check', then 'blockvault repair --read-data'")
        }
        let catalog = vault.catalog
        var report = PruneReport()
        // Garbage an interrupted writer left (temporary files, unrecorded packs, pending deletions)
        // is cleaned up or adopted first, so this prune reclaims it too.
        if !options.dryRun { try vault.recoverInterruptedWrites() }

        // Mark: every block a recorded version needs goes into a temporary table (SQLite spills it
        // to a temporary file when large), so memory stays flat however big the vault is.
        let database = catalog.database
        try database.execute("""
            DROP TABLE IF EXISTS temp.live;
            CREATE TEMP TABLE live(hash BLOB PRIMARY KEY) STRICT, WITHOUT ROWID;
            INSERT OR IGNORE INTO temp.live SELECT blocklist FROM versions WHERE blocks = 1 AND blocklist IS NOT NULL;
            """)
        defer { try? database.execute("DROP TABLE IF EXISTS temp.live") }
        let markLive = try database.prepare("INSERT OR IGNORE INTO temp.live(hash) VALUES(?)")
        let lists = try database.prepare("""
            SELECT l.ids FROM blocklists l WHERE l.hash IN (SELECT DISTINCT blocklist FROM versions WHERE blocks > 1)
            """)
        while try lists.step() {
            for id in lists.withBlob(0, BlockID.list(in:)) {
                try markLive.bind(id, at: 1)
                try markLive.step()
            }
        }

        // Sweep plan: per data pack, live and dead bytes, from two passes over the block table (blocks
        // stored alone, then shared frames).
        var uses: [Int64: PackUse] = [:]
        for pack in try catalog.packs() where pack.kind == Int(PackFormat.Kind.data.rawValue) {
            uses[pack.id] = PackUse(id: pack.id, name: pack.name, size: pack.size)
        }
        let usage = try database.prepare("""
            SELECT b.pack, b.stored_length, EXISTS (SELECT 1 FROM temp.live l WHERE l.hash = b.hash) FROM blocks b
            WHERE b.encoding != \(PackFormat.Encoding.zstdShared.rawValue)
            """)
        while try usage.step() {
            let pack = usage.int64(0)
            guard uses[pack] != nil else { continue }
            if usage.int(2) != 0 {
                uses[pack]!.liveBlocks += 1
            } else {
                uses[pack]!.deadBlocks += 1
                uses[pack]!.deadBytes += usage.int(1)
            }
        }
        // A shared frame's bytes are dead in the proportion of its blocks' plaintext that is dead.
        // Grouped by SQLite (which sorts on disk when it must), so memory does not grow with the
        // number of frames.
        let frameUsage = try database.prepare("""
            SELECT pack, max(stored_length), sum(live * raw_length), sum((1 - live) * raw_length), sum(live), count(*) FROM
              (SELECT b.pack, b.offset, b.stored_length, b.raw_length,
                      EXISTS (SELECT 1 FROM temp.live l WHERE l.hash = b.hash) AS live
               FROM blocks b WHERE b.encoding = \(PackFormat.Encoding.zstdShared.rawValue))
            GROUP BY pack, offset
            """)
        while try frameUsage.step() {
            let pack = frameUsage.int64(0)
            guard uses[pack] != nil else { continue }
            let (stored, liveRaw, deadRaw) = (frameUsage.int(1), frameUsage.int(2), frameUsage.int(3))
            uses[pack]!.liveBlocks += frameUsage.int(4)
            uses[pack]!.deadBlocks += frameUsage.int(5) - frameUsage.int(4)
            if deadRaw > 0 {
                uses[pack]!.deadBytes += liveRaw == 0 ? stored : Int(Double(stored) * Double(deadRaw) / Double(liveRaw + deadRaw))
            }
        }
        let packUses = uses.values.sorted { $0.name < $1.name }
        report.blocksUsed = packUses.reduce(0) { $0 + $1.liveBlocks }
        report.blocksUnused = packUses.reduce(0) { $0 + $1.deadBlocks }
        let total = packUses.reduce(0) { $0 + $1.size }
        report.bytesBefore = Int64(total)
        let empty = packUses.filter { $0.liveBlocks == 0 }
        var partial = packUses.filter { $0.liveBlocks > 0 && $0.deadBytes > 0 }.sorted {
            Double($0.deadBytes) / Double($0.size) > Double($1.deadBytes) / Double($1.size)
        }
        // Repack the most wasteful packs until what stays unused is within the limit.
        let limit = Int(Double(total) * options.maxUnusedPercent / 100)
        var unused = partial.reduce(0) { $0 + $1.deadBytes }
        var repack: [PackUse] = []
        while unused > limit, !partial.isEmpty {
            let next = partial.removeFirst()
            repack.append(next)
            unused -= next.deadBytes
        }
        let small = packUses.filter { $0.liveBlocks > 0 && $0.deadBytes == 0 && $0.size < PackFormat.targetSize / 4 }
        if small.count >= 10 { repack += small }
        report.packsDeleted = empty.count
        report.packsRepacked = repack.count
        if options.dryRun {
            report.bytesAfter = report.bytesBefore - Int64(empty.reduce(0) { $0 + $1.size }) - Int64(repack.reduce(0) { $0 + $1.deadBytes })
            report.seconds = FileSystem.monotonicSeconds() - started
            return report
        }

        // The live entries of the packs to repack (only theirs are held in memory).
        var repackIndex: [Int64: Int] = [:]
        for (index, pack) in repack.enumerated() { repackIndex[pack.id] = index }
        let isLive = try database.prepare("SELECT 1 FROM temp.live WHERE hash = ?")
        try catalog.forEachPackEntries(only: Set(repackIndex.keys)) { packID, entries in
            let index = repackIndex[packID]!
            for entry in entries.values {
                if entry.isShared { repack[index].frameBlocks[entry.offset, default: 0] += 1 }
                try isLive.bind(entry.id, at: 1)
                if try isLive.step() {
                    repack[index].live.append(entry)
                    try isLive.step()
                }
            }
        }

        // Copy live blocks of repacked packs into new packs (as stored, after verifying each; a
        // shared frame with dead blocks is compressed again from its live ones). A block that cannot
        // be read or verified stops the prune before anything is unreferenced: a read error is never
        // a deletion (a transient one would otherwise cost a live block). Dropping damaged blocks is
        // `repair --read-data`'s decision, not prune's.
        let sealed = SealedPackList()
        let writer = PackWriter(kind: .data, storage: vault.storage) { pack in sealed.append(pack) }
        let written: [SealedPack]
        do {
            let copier = PackCopier(vault: vault, writer: writer)
            for pack in repack {
                try copier.copy(pack.live, of: pack.name, frameBlocks: pack.frameBlocks) { entry, error in
                    throw StoreError.invalidVault("prune stopped, nothing was deleted: cannot read block \(entry.id.hex.prefix(16)) in pack \(pack.name) (\(error)); "
                                                  + "run 'blockvault check --read-data' (if the block is damaged, 'blockvault repair --apply --read-data' drops it)")
                }
            }
            try writer.flush()
            written = sealed.take()
        } catch {
            // The packs sealed so far are referenced by nothing: remove them now rather than leave
            // them for the next writer to adopt.
            for pack in sealed.take() { try? vault.storage.deletePack(named: pack.name) }
            throw error
        }
        report.packsWritten = written.count

        // One transaction moves every reference, then the files go.
        let doomed = empty + repack
        try catalog.transaction {
            for pack in written { try catalog.insertPack(pack, replacingLocations: true) }
            let markPending = try database.prepare("INSERT OR IGNORE INTO pending_deletions(name) VALUES(?)")
            let deletePack = try database.prepare("DELETE FROM packs WHERE id = ?")
            for pack in doomed {
                try deletePack.run([.integer(pack.id)])
                try markPending.run([.text(pack.name)])
            }
            if !doomed.isEmpty {
                // Rows still pointing at a doomed pack are dead blocks (live ones now point elsewhere).
                try database.execute("DELETE FROM blocks WHERE pack IN (\(doomed.map { String($0.id) }.joined(separator: ",")))")
            }
            // Dead blocks left in kept packs keep their rows: a later backup may reuse them, and their
            // space is reclaimed once their pack is worth repacking.
            try database.execute("DELETE FROM missing_blocks WHERE hash NOT IN (SELECT hash FROM temp.live)")
            try database.execute("""
                DELETE FROM blocklists WHERE hash NOT IN (SELECT blocklist FROM versions WHERE blocks > 1 AND blocklist IS NOT NULL)
                """)
            report.dictionariesRemoved = try dropUnusedDictionaries(vault: vault)
        }
        let readers = try vault.lockOutReaders(waitSeconds: 600)
        try vault.finishPendingDeletions()
        withExtendedLifetime(readers) {}
        report.bytesAfter = try database.scalar("SELECT sum(size) FROM packs WHERE kind = 0") ?? 0
        report.seconds = FileSystem.monotonicSeconds() - started
        return report
    }

    /// Forgets the zstd dictionaries that no block row left in the catalog uses (dead rows in kept
    /// packs count: a later backup may reuse them), and unreferences their records; a metadata pack
    /// left empty goes like any other. Each block names its dictionary in its frame's header, read
    /// from its pack only when there are several dictionaries to tell apart. A header that cannot be
    /// read stops the prune (a read error is never a deletion). Call inside the sweep's transaction.
    private static func dropUnusedDictionaries(vault: Vault) throws -> Int {
        let catalog = vault.catalog
        let records = try catalog.dictionaryRecords()
        guard !records.isEmpty else { return 0 }
        let blocks = try catalog.dictionaryBlockLocations()
        var used = Set<UInt32>()
        if records.count == 1 {
            if !blocks.isEmpty { used.insert(records[0].id) }
        } else {
            var header = [UInt8](repeating: 0, count: 32)
            for block in blocks where used.count < records.count {
                let count = min(header.count, block.storedLength)
                var failure: StoreError?
                let id = header.withUnsafeMutableBytes { buffer -> UInt32 in
                    let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                    do throws(StoreError) {
                        try vault.storage.readPack(named: block.pack, at: block.offset, into: target)
                    } catch {
                        failure = error
                        return 0
                    }
                    return ZstdDictionary.id(ofFrame: UnsafeRawBufferPointer(target))
                }
                if let failure {
                    throw StoreError.invalidVault("prune stopped, nothing was deleted: cannot read a block's dictionary id (\(failure)); run 'blockvault check --read-data'")
                }
                used.insert(id)
            }
        }
        var removed = 0
        for (id, record) in records where !used.contains(id) {
            _ = try catalog.dropDictionary(id: id, record: record)
            removed += 1
        }
        return removed
    }
}
