/// restic-style snapshot retention: which snapshots of one folder `forget` keeps.
///
/// A snapshot is kept when any rule keeps it (the rules are ORed), and every rule that keeps it is
/// listed in its decision's reasons. The rules, each off when nil:
///
/// - `keepLast` n: the n newest snapshots.
/// - `keepHourly`, `keepDaily`, `keepWeekly`, `keepMonthly`, `keepYearly` n: walking from the newest
///   snapshot to the oldest, the newest snapshot of each of the n most recent hours (days, weeks,
///   months, years) that contain at least one snapshot. Periods are natural UTC calendar periods, not
///   spans counted back from now: hours :00 to :59, days 00:00 to 23:59, ISO 8601 weeks Monday 00:00
///   to Sunday 23:59 (a week across New Year is one week), calendar months and years. Periods without
///   snapshots do not count.
/// - `keepWithin` d: every snapshot less than d nanoseconds older than the newest snapshot of the
///   group (restic's "newer than": one exactly d older is not kept by this rule). Measured from the
///   newest snapshot rather than the clock, so a folder that stopped being backed up keeps its last d.
/// - `keepTags`: every snapshot that has any of these tags (one tag per entry, compared exactly).
///
/// A count of 0 turns its rule off (as restic's default of 0); a negative count means unlimited
/// (restic's `unlimited`): every snapshot for `keepLast`, the newest of every period for the others.
/// A `keepWithin` of 0 or less is off.
///
/// Unlike restic 0.17, the oldest snapshot is not kept in addition when there are fewer periods than
/// a rule asks for.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepLast: Int? = nil
    public var keepHourly: Int? = nil
    public var keepDaily: Int? = nil
    public var keepWeekly: Int? = nil
    public var keepMonthly: Int? = nil
    public var keepYearly: Int? = nil
    /// Keep every snapshot taken within this many nanoseconds before the newest snapshot
    /// (strictly less than this much older than it).
    public var keepWithin: Int64? = nil
    public var keepTags: [String] = []

    public init() {}

    /// True when no rule is set (then `decide` must not be called: forgetting everything is refused
    /// by the caller). Counts of 0, a `keepWithin` of 0 or less, and an empty tag list are not set.
    public var isEmpty: Bool {
        (keepLast ?? 0) == 0 && bucketRules.allSatisfy { $0.count == 0 } && (keepWithin ?? 0) <= 0 && keepTags.isEmpty
    }

    /// Decides for one group of snapshots (one folder), given oldest first. Returns one decision per
    /// snapshot, in the same order. Calendar buckets are UTC.
    ///
    /// The input need not be sorted: the rules look at snapshot times, and decisions still come back
    /// in input order. Snapshots with equal times are ordered by their position in the input, the
    /// later one counting as the newer. With an empty policy every snapshot is forgotten.
    public func decide(_ snapshots: [Snapshot]) -> [RetentionDecision] {
        let newestFirst = snapshots.indices.sorted { left, right in
            let leftTime = snapshots[left].time, rightTime = snapshots[right].time
            return leftTime != rightTime ? leftTime > rightTime : left > right
        }
        var reasons = [[String]](repeating: [], count: snapshots.count)

        if let count = keepLast, count != 0 {
            for index in count < 0 ? newestFirst[...] : newestFirst.prefix(count) {
                reasons[index].append("last snapshot")
            }
        }

        for rule in bucketRules where rule.count != 0 {
            var remaining = rule.count
            var previousBucket: Int64?
            for index in newestFirst where remaining != 0 {
                let bucket = rule.period.bucket(of: snapshots[index].time)
                guard bucket != previousBucket else { continue }
                previousBucket = bucket
                remaining -= 1  // from a negative (unlimited) count this never reaches zero
                reasons[index].append("\(rule.period.adjective) snapshot")
            }
        }

        if let within = keepWithin, within > 0, let newest = newestFirst.first.map({ snapshots[$0].time }) {
            let reason = "within \(RetentionDuration.format(within))"
            for index in newestFirst {
                let (age, overflow) = newest.subtractingReportingOverflow(snapshots[index].time)
                guard !overflow, age < within else { break }  // ages only grow from here
                reasons[index].append(reason)
            }
        }

        var seenTags = Set<String>()
        for tag in keepTags where seenTags.insert(tag).inserted {
            for index in snapshots.indices where snapshots[index].tags.contains(tag) {
                reasons[index].append("tag \(tag)")
            }
        }

        return snapshots.indices.map { RetentionDecision(snapshot: snapshots[$0], reasons: reasons[$0]) }
    }

    /// The calendar rules in reason order, with unset counts as 0.
    private var bucketRules: [(period: CalendarPeriod, count: Int)] {
        [(.hour, keepHourly ?? 0), (.day, keepDaily ?? 0), (.week, keepWeekly ?? 0),
         (.month, keepMonthly ?? 0), (.year, keepYearly ?? 0)]
    }
}
