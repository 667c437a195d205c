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
public struct Forget {
    public let vault: Vault
    public let options: ForgetOptions
    /// The time (nanoseconds) archived versions' ages are measured from.
    public let now: Int64

    /// `now` defaults to the current time.
    public init(vault: Vault, options: ForgetOptions, now: Int64? = nil) {
        self.vault = vault
        self.options = options
        self.now = now ?? FileSystem.nowNanoseconds()
    }

    /// Decides, then (unless `dryRun`) seals the forget record and deletes the rows in the
    /// transaction that records its pack. Throws when no rule is given, or the vault cannot be
    /// written; nothing is deleted then.
    public func run() throws -> ForgetReport {
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
        try catalog.forEachPathHistory { _, folder, sequences in
            let points = kept[folder] ?? []
            var archived: [(sequence: Int64, replacedAt: Int64)] = []
            for (index, sequence) in sequences.enumerated() {
                guard index + 1 < sequences.count else { break }   // the latest always stays
                let next = sequences[index + 1]
                if Forget.someSnapshot(in: points, from: sequence, before: next) { continue }
                archived.append((sequence, Forget.time(of: next, snapshots: snapshotTimes, now: now)))
            }
            var keepIndexes = Set<Int>()
            if options.staggered {
                keepIndexes = StaggeredThinning.keep(times: archived.map(\.replacedAt), now: now, maxAge: options.maxAge ?? 0)
            }
            for (index, item) in archived.enumerated() where !keepIndexes.contains(index) { drop.append(item.sequence) }
        }
        report.versionsForgotten = drop.count
        report.versionsKept = try catalog.versionCount() - drop.count
        guard !options.dryRun, !drop.isEmpty || !forgotten.isEmpty else { return report }

        // The forget record first, sealed and recorded; then, in the same transaction, the rows go.
        let writer = VaultWriter(vault: vault)
        try writer.storeRecord(MetadataRecord.encodeForget(snapshots: forgotten, sequences: drop))
        try writer.commit { catalog in try catalog.forget(snapshots: forgotten, versions: drop) }
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
