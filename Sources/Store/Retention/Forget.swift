import Chunker
import Foundation
import Synchronization

/// What `forget` should keep.
public struct ForgetOptions: Sendable {
    public var policy = RetentionPolicy()
    /// Thin archived file versions (those no kept snapshot needs) the Syncthing way instead of
    /// dropping them all.
    public var staggered = false
    /// With `staggered`: archived versions older than this (nanoseconds) go; nil keeps them forever.
    public var maxAge: Int64? = nil
    /// Report only; change nothing.
    public var dryRun = false
    public var lockWaitSeconds: Double = 0

    public init() {}
}

public struct ForgetReport: Sendable {
    /// Every snapshot with the decision about it, oldest first within each folder.
    public var decisions: [RetentionDecision] = []
    public var versionsForgotten = 0
    public var versionsKept = 0
}

/// Forgets snapshots by a retention policy, and the file versions no kept snapshot needs (all of
/// them, or with `staggered` a Syncthing-style thinning of them). A version is needed when it is the
/// latest of its path, or when some kept snapshot's state includes it; deletions count too, so a
/// kept snapshot never shows a file it did not have. Data is not deleted here: `prune` reclaims it.
///
/// A forget record is sealed in a metadata pack before the catalog rows go, so a rebuilt catalog
/// does not bring forgotten history back.
public enum Forget {
    public static func run(vault: Vault, options: ForgetOptions, now: Int64? = nil) throws -> ForgetReport {
        let now = now ?? FileSystem.nowNanoseconds()
        guard !options.policy.isEmpty || options.staggered else {
            throw StoreError.invalidArgument("no retention rule given; pass --keep-last, --keep-daily, … or --staggered (forget never removes everything)")
        }
        let lock = try vault.lockForWriting(waitSeconds: options.lockWaitSeconds)
        defer { withExtendedLifetime(lock) {} }
        let catalog = vault.catalog
        var report = ForgetReport()

        let all = try catalog.snapshots()
        var kept: [Int64: [Int64]] = [:]   // folder → sorted sequences of kept snapshots
        var forgotten: [String] = []
        for folder in Set(all.map(\.folder)).sorted() {
            let group = all.filter { $0.folder == folder }.map(\.snapshot)
            let decisions = options.policy.isEmpty ? group.map { RetentionDecision(snapshot: $0, reasons: ["staggered only"]) }
                                                   : options.policy.decide(group)
            report.decisions += decisions
            kept[folder] = decisions.filter(\.keep).map(\.snapshot.sequence).sorted()
            forgotten += decisions.filter { !$0.keep }.map(\.snapshot.id)
        }

        // Which versions stay: walk every path's versions in sequence order.
        let snapshotTimes = all.map { ($0.snapshot.sequence, $0.snapshot.time) }.sorted { $0.0 < $1.0 }
        var drop: [Int64] = []
        let rows = try catalog.database.prepare("""
            SELECT v.sequence, v.name, n.folder FROM versions v JOIN names n ON n.id = v.name ORDER BY v.name, v.sequence
            """)
        var current: (name: Int64, folder: Int64, sequences: [Int64])? = nil
        func decide(_ path: (name: Int64, folder: Int64, sequences: [Int64])) {
            let points = kept[path.folder] ?? []
            var archived: [(sequence: Int64, replacedAt: Int64)] = []
            for (index, sequence) in path.sequences.enumerated() {
                guard index + 1 < path.sequences.count else { break }   // the latest always stays
                let next = path.sequences[index + 1]
                if Forget.someSnapshot(in: points, from: sequence, before: next) { continue }
                archived.append((sequence, Forget.time(of: next, snapshots: snapshotTimes, now: now)))
            }
            var keepIndexes = Set<Int>()
            if options.staggered {
                keepIndexes = StaggeredThinning.keep(times: archived.map(\.replacedAt), now: now, maxAge: options.maxAge ?? 0)
            }
            for (index, item) in archived.enumerated() where !keepIndexes.contains(index) { drop.append(item.sequence) }
        }
        while try rows.step() {
            let sequence = rows.int64(0)
            let name = rows.int64(1)
            if current?.name == name {
                current!.sequences.append(sequence)
            } else {
                if let finished = current { decide(finished) }
                current = (name, rows.int64(2), [sequence])
            }
        }
        if let finished = current { decide(finished) }
        report.versionsForgotten = drop.count
        report.versionsKept = Int(try catalog.database.scalar("SELECT count(*) FROM versions") ?? 0) - drop.count
        guard !options.dryRun, !drop.isEmpty || !forgotten.isEmpty else { return report }

        // The forget record first, sealed and recorded; then the rows go.
        let sealed = SealedPackList()
        let packs = PackWriter(kind: .metadata, storage: vault.storage) { pack in sealed.append(pack) }
        let record = MetadataRecord.encodeForget(snapshots: forgotten, sequences: drop)
        let encoder = BlockEncoder(level: vault.configuration.compression.level)
        try record.withUnsafeBytes { plain in
            let id = SHA256Hasher().hash(plain)
            let (stored, encoding) = try encoder.encode(plain, id: id)
            try packs.append(id: id, stored: stored, rawLength: plain.count, encoding: encoding)
        }
        try packs.flush()
        try catalog.transaction {
            for pack in sealed.take() { try catalog.insertPack(pack) }
            let deleteSnapshot = try catalog.database.prepare("DELETE FROM snapshots WHERE snapshot_id = ?")
            for id in forgotten { try deleteSnapshot.run([.text(id)]) }
            // Remembered, so that a push from the master does not list them again without their versions.
            try catalog.recordForgottenSnapshots(forgotten)
            let deleteVersion = try catalog.database.prepare("DELETE FROM versions WHERE sequence = ?")
            for sequence in drop { try deleteVersion.run([.integer(sequence)]) }
        }
        return report
    }

    /// Whether a sorted list of snapshot sequences has one in [from, before).
    static func someSnapshot(in points: [Int64], from: Int64, before: Int64) -> Bool {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle] < from { low = middle + 1 } else { high = middle }
        }
        return low < points.count && points[low] < before
    }

    /// When the version with `sequence` was recorded: the time of the first snapshot covering it
    /// (or `now` when no snapshot does yet).
    static func time(of sequence: Int64, snapshots: [(Int64, Int64)], now: Int64) -> Int64 {
        snapshots.first { $0.0 >= sequence }?.1 ?? now
    }
}
