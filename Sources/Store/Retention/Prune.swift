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
public struct Prune {
    public let vault: Vault
    public let options: PruneOptions
    /// While `run` runs: phases "marking", "repacking" (packs copied, and their bytes, of those to
    /// repack) and "deleting".
    public let progress: OperationProgress

    public init(vault: Vault, options: PruneOptions = PruneOptions(), progress: OperationProgress = OperationProgress()) {
        self.vault = vault
        self.options = options
        self.progress = progress
    }

    /// One data pack's use, and what to copy out of it when it is repacked.
    private struct PackUse {
        var usage: Catalog.PackUsage
        var live: [PackEntry] = []
        /// For a pack to repack: how many blocks (live or dead) each shared frame holds, by offset.
        var frameBlocks: [Int: Int] = [:]
        var id: Int64 { usage.id }
        var name: String { usage.name }
        var size: Int { usage.size }
        var liveBlocks: Int { usage.liveBlocks }
        var deadBytes: Int { usage.deadBytes }
    }

    /// Marks, plans, repacks and sweeps (see the type). Throws, deleting nothing, when a block to
    /// copy cannot be read or verified, or a dictionary cannot be told apart; with `dryRun`, only
    /// reports.
    public func run() throws -> PruneReport {
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
        progress.enter("marking", items: nil)
        // Garbage an interrupted writer left (temporary files, unrecorded packs, pending deletions)
        // is cleaned up or adopted first, so this prune reclaims it too.
        if !options.dryRun { try vault.recoverInterruptedWrites() }
        // Mark: every block a recorded version needs; the rest of the prune asks about it.
        let swept = try catalog.withLiveBlocks { try sweep(report: &report) }
        guard swept else {
            report.seconds = FileSystem.monotonicSeconds() - started
            return report
        }
        progress.enter("deleting")
        let readers = try vault.lockOutReaders(waitSeconds: 600)
        try vault.finishPendingDeletions()
        withExtendedLifetime(readers) {}
        report.bytesAfter = try catalog.dataPackBytes()
        report.seconds = FileSystem.monotonicSeconds() - started
        return report
    }

    /// Plans, repacks and unreferences, with the live blocks marked. Returns false for a dry run
    /// (nothing changed), true once the sweep is committed and the doomed packs wait for deletion.
    private func sweep(report: inout PruneReport) throws -> Bool {
        let catalog = vault.catalog
        let packUses = try catalog.dataPackUsage().map { PackUse(usage: $0) }
        report.blocksUsed = packUses.reduce(0) { $0 + $1.usage.liveBlocks }
        report.blocksUnused = packUses.reduce(0) { $0 + $1.usage.deadBlocks }
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
            return false
        }

        // The live entries of the packs to repack (only theirs are held in memory).
        var repackIndex: [Int64: Int] = [:]
        for (index, pack) in repack.enumerated() { repackIndex[pack.id] = index }
        try catalog.blocksToCopy(fromPacks: Set(repackIndex.keys)) { packID, live, frameBlocks in
            repack[repackIndex[packID]!].live = live
            repack[repackIndex[packID]!].frameBlocks = frameBlocks
        }

        // Copy live blocks of repacked packs into new packs (as stored, after verifying each; a
        // shared frame with dead blocks is compressed again from its live ones). A block that cannot
        // be read or verified stops the prune before anything is unreferenced: a read error is never
        // a deletion (a transient one would otherwise cost a live block). Dropping damaged blocks is
        // `repair --read-data`'s decision, not prune's.
        let writer = VaultWriter(vault: vault)
        progress.enter("repacking", items: Int64(repack.count), bytes: Int64(repack.reduce(0) { $0 + $1.size }))
        do {
            let copier = PackCopier(vault: vault, writer: writer.packs(.data))
            for pack in repack {
                try copier.copy(pack.live, of: pack.name, frameBlocks: pack.frameBlocks) { entry, error in
                    throw StoreError.invalidVault("prune stopped, nothing was deleted: cannot read block \(entry.id.hex.prefix(16)) in pack \(pack.name) (\(error)); "
                                                  + "run 'blockvault check --read-data' (if the block is damaged, 'blockvault repair --apply --read-data' drops it)")
                }
                progress.add(items: 1, bytes: Int64(pack.size))
            }
            report.packsWritten = try writer.seal().count
        } catch {
            // The packs sealed so far are referenced by nothing: remove them now rather than leave
            // them for the next writer to adopt.
            writer.abandon()
            throw error
        }

        // One transaction moves every reference (the copies' rows first), then the files go.
        let doomed = (empty + repack).map { (id: $0.id, name: $0.name) }
        try writer.commit(replacingLocations: true) { catalog in
            try catalog.unreferencePacks(doomed)
            report.dictionariesRemoved = try dropUnusedDictionaries()
        }
        return true
    }

    /// Forgets the zstd dictionaries that no block row left in the catalog uses (dead rows in kept
    /// packs count: a later backup may reuse them), and unreferences their records; a metadata pack
    /// left empty goes like any other. Each block names its dictionary in its frame's header, read
    /// from its pack only when there are several dictionaries to tell apart. A header that cannot be
    /// read stops the prune (a read error is never a deletion). Call inside the sweep's transaction.
    private func dropUnusedDictionaries() throws -> Int {
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
