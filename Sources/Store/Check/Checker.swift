import Chunker
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Checks a vault: the catalog's own integrity, that every pack the catalog records exists and its
/// footer agrees with the catalog, that every recorded file version's blocks are all present, and
/// with `readData` that every block of the selected packs decompresses to bytes matching its hash.
/// It takes only the shared read lock. It changes one thing, and only in a vault it may write: a
/// copy of a block whose bytes do not match its hash is dropped and the block remembered as missing
/// (`Catalog.markDamaged`), so that the next backup that meets the block stores it again.
public struct Checker {
    let vault: Vault
    let options: CheckOptions
    /// While `run` runs: phase "checking packs" (packs whose footers were checked, of all recorded),
    /// or with `readData` "reading packs" (packs read and verified, and their bytes, of those selected).
    public let progress: OperationProgress

    public init(vault: Vault, options: CheckOptions = CheckOptions(), progress: OperationProgress = OperationProgress()) {
        self.vault = vault
        self.options = options
        self.progress = progress
    }

    /// Runs every check once and reports what it found: damage is named in the report, not thrown.
    /// Throws when the read lock cannot be had or the catalog cannot be read.
    public func run() throws -> CheckReport {
        let started = FileSystem.monotonicSeconds()
        let lock = try vault.lockForReading()   // prune must not delete packs while they are read
        defer { withExtendedLifetime(lock) {} }
        var report = CheckReport()
        let catalog = vault.catalog
        var damaged: [BlockID: String] = [:]   // block → what is wrong with it

        // 1. SQLite's own view of the catalog file.
        switch try catalog.integrity() {
        case .intact:
            break
        case .unreadable(let diskError):
            // Pages that could not be read are the disk's problem, not damage that repair would fix.
            report.problems.append("catalog.db could not be checked: \(diskError), then run check again")
        case .damaged(let lines):
            report.problems.append("catalog.db fails SQLite's integrity check: \(lines.prefix(3).joined(separator: "; ")); run 'blockvault repair'")
        }

        // 2. Packs: recorded ones exist and their footers agree with the catalog.
        let onDisk = Set(try vault.storage.packNames())
        let recorded = try catalog.packs()
        let recordedByID = Dictionary(uniqueKeysWithValues: recorded.map { ($0.id, $0) })
        var readNames = options.readData ? recorded.map(\.name).filter { onDisk.contains($0) } : []
        if let subset = options.subset { readNames = subset.select(readNames) }
        let toRead = Set(readNames)
        if options.readData {
            let sizes = Dictionary(recorded.map { ($0.name, Int64($0.size)) }, uniquingKeysWith: { first, _ in first })
            progress.enter("reading packs", items: Int64(readNames.count), bytes: readNames.reduce(0) { $0 + (sizes[$1] ?? 0) })
        } else {
            progress.enter("checking packs", items: Int64(recorded.count))
        }
        // With --read-data, packs are read and verified (step 5) while this pass goes on, each handed
        // over with the blocks the catalog places in it: only a few packs' block sets are in memory at
        // a time, however many blocks the vault holds (they used to be collected for every pack first).
        let reading = options.readData ? PackReading(vault: vault, workers: options.workers, progress: progress) : nil
        defer { reading?.cancel() }
        var visited = Set<Int64>()
        var goneWithFooter: [(id: BlockID, pack: String)] = []   // marked once the pass over the blocks is over
        func checkPack(_ pack: (id: Int64, name: String, kind: Int, size: Int), _ entries: [BlockID: PackEntry]) {
            report.packsChecked += 1
            visited.insert(pack.id)
            if reading == nil { progress.add(items: 1) }
            // Only the copy the catalog points at counts; an older copy left in another pack is garbage.
            if toRead.contains(pack.name) { reading?.read(pack.name, referenced: Set(entries.keys)) }
            let isMetadata = pack.kind == Int(PackFormat.Kind.metadata.rawValue)
            guard onDisk.contains(pack.name) else {
                if isMetadata {
                    report.problems.append("metadata pack \(pack.name) is missing: repair could not rebuild the catalog fully; the next backup writes the metadata again")
                } else {
                    for id in entries.keys { damaged[id] = "pack \(pack.name) is missing" }
                }
                return
            }
            let sealed: SealedPack
            do { sealed = try vault.storage.sealedPack(named: pack.name) } catch {
                guard toRead.contains(pack.name) else {
                    for id in entries.keys { damaged[id] = "pack \(pack.name) is damaged (\(error))" }
                    return
                }
                // Its footer is gone, not necessarily its blocks: each is read where the catalog
                // places it. One that is gone (cut off, or not matching its hash) is marked for the
                // next backup to store again; one that reads is left for repair to salvage.
                let reader = PackReader(storage: vault.storage, dictionaries: vault.dictionaries)
                var intact = 0
                for (id, entry) in entries {
                    do {
                        _ = try reader.read(BlockLocation(pack: pack.name, entry: entry))
                        intact += 1
                    } catch let readError {
                        if case .io = readError {   // a read error is never taken for damage
                            damaged[id] = "pack \(pack.name) is damaged (\(error)) and the block cannot be read (\(readError))"
                            continue
                        }
                        damaged[id] = "pack \(pack.name) is damaged and the block is gone (\(readError))"
                        goneWithFooter.append((id, pack.name))
                    }
                }
                if intact > 0 {
                    report.problems.append("pack \(pack.name) is damaged (\(error)); \(intact) of its \(entries.count) blocks still read and verify: 'blockvault repair --apply' salvages them")
                }
                return
            }
            if sealed.size != pack.size {
                report.problems.append("pack \(pack.name): \(sealed.size) bytes on disk, the catalog recorded \(pack.size)")
            }
            let footer = Dictionary(sealed.entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for (id, entry) in entries where footer[id] != entry {
                damaged[id] = footer[id] == nil ? "pack \(pack.name)'s footer does not list it"
                                                : "pack \(pack.name)'s footer places it differently from the catalog"
            }
        }
        // One ordered pass over the block table hands each pack its entries.
        try catalog.forEachPackEntries { packID, entries in
            if let pack = recordedByID[packID] { checkPack(pack, entries) }
        }
        for pack in recorded where !visited.contains(pack.id) { checkPack(pack, [:]) }
        let recordedNames = Set(recorded.map(\.name))
        let pending = Set(try catalog.pendingDeletions())
        for name in onDisk.subtracting(recordedNames).sorted() {
            report.notes.append(pending.contains(name)
                ? "pack \(name) is no longer used and waits to be deleted (the next prune or backup deletes it)"
                : "pack \(name) is not referenced by the catalog (left by an interrupted writer; the next backup adopts it)")
        }

        // 3. Every recorded dictionary loads: without it, no block compressed with it can be read.
        for (id, reason) in vault.dictionaries.failures {
            report.problems.append("zstd dictionary \(id) cannot be loaded: \(reason); the blocks compressed with it cannot be read")
        }

        // 4. Every recorded file version has all its blocks.
        var absent = try catalog.absentReferencedBlocks()
        for id in try catalog.missingBlocks() { absent.insert(id) }
        for id in absent where damaged[id] == nil { damaged[id] = "it is missing from the vault" }

        // 5. Read and verify the data itself (started during step 2).
        if let reading {
            let result = reading.finish()
            report.packsRead = readNames.count
            report.blocksRead = result.blocks
            report.bytesRead = result.bytes
            for (id, why) in result.damaged where damaged[id] == nil { damaged[id] = why }
            report.problems += result.packErrors.sorted()
            for id in markForStoringAgain(result.corrupt + goneWithFooter, notes: &report.notes) {
                damaged[id] = (damaged[id] ?? "") + " (marked missing: the next backup of a file that holds it stores it again)"
            }
        }

        report.problems += try describe(damaged)
        report.seconds = FileSystem.monotonicSeconds() - started
        return report
    }

    /// Drops the copies whose bytes do not match their hash and remembers their blocks as missing,
    /// when the vault may be written (a read-only one is only reported on); returns the blocks marked.
    private func markForStoringAgain(_ copies: [(id: BlockID, pack: String)], notes: inout [String]) -> Set<BlockID> {
        guard !copies.isEmpty else { return [] }
        guard vault.markDamaged(copies) else {
            notes.append("the damaged blocks could not be marked for the next backup to store again (the vault cannot be written); 'blockvault repair --read-data --apply' drops them")
            return []
        }
        return Set(copies.map(\.id))
    }

    /// One line per damaged block, naming the file versions (and snapshots) it breaks.
    private func describe(_ damaged: [BlockID: String]) throws -> [String] {
        guard !damaged.isEmpty else { return [] }
        let users = try vault.versionsUsing(Set(damaged.keys))
        return damaged.sorted { $0.key < $1.key }.map { id, why in
            let affected = users[id] ?? []
            let names = affected.joined(separator: ", ")
            return "block \(id.hex.prefix(16)): \(why); " + (affected.isEmpty ? "no recorded file version uses it" : "breaks \(names)")
        }
    }
}

/// Reads packs whole and sequentially, on a few threads of its own, verifying every block the catalog
/// places in them, as they are handed over.
private final class PackReading: Sendable {
    struct Result {
        var blocks = 0
        var bytes: Int64 = 0
        var damaged: [BlockID: String] = [:]
        /// The copies (block, pack) whose bytes do not match their hash.
        var corrupt: [(id: BlockID, pack: String)] = []
        var packErrors: [String] = []
    }

    private struct Job: Sendable {
        let name: String
        let referenced: Set<BlockID>
    }

    private let jobs: BoundedQueue<Job>
    private let result = Mutex(Result())
    private let group = DispatchGroup()

    /// Each pack verified counts in `progress`, with its bytes when it could be read.
    init(vault: Vault, workers: Int, progress: OperationProgress) {
        let count = workers > 0 ? workers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        jobs = BoundedQueue(capacity: 2 * count)
        let storage = vault.storage
        let dictionaries = vault.dictionaries
        for _ in 0..<count {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                let verifier = PackVerifier(storage: storage, dictionaries: dictionaries)
                while let job = jobs.pop() {
                    let outcome = verifier.verify(job.name, referenced: job.referenced)
                    progress.add(items: 1, bytes: outcome.bytes)
                    result.withLock { total in
                        total.blocks += outcome.blocks
                        total.bytes += outcome.bytes
                        total.damaged.merge(outcome.damaged) { first, _ in first }
                        total.corrupt += outcome.corrupt.map { ($0, job.name) }
                        if let error = outcome.packError { total.packErrors.append(error) }
                    }
                }
            }.start()
        }
    }

    /// Hands pack `name` over; waits while every thread is busy and the queue is full.
    func read(_ name: String, referenced: Set<BlockID>) {
        jobs.push(Job(name: name, referenced: referenced))
    }

    /// Waits for every handed-over pack to be verified.
    func finish() -> Result {
        jobs.close()
        group.wait()
        return result.withLock { $0 }
    }

    /// Stops early (a failed pass): the threads finish the packs in hand and end.
    func cancel() {
        jobs.close()
        group.wait()
    }
}
