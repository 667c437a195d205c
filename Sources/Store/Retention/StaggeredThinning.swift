/// Syncthing-style staggered thinning of one file's archived versions.
///
/// A version's age is `now` minus the time it was replaced (a time after `now` counts as age 0). Its
/// age sets the spacing kept around it:
///
/// | age                 | at most one version per |
/// |---------------------|-------------------------|
/// | under 1 hour        | 30 seconds              |
/// | 1 hour to 1 day     | 1 hour                  |
/// | 1 day to 30 days    | 1 day                   |
/// | 30 days and more    | 1 week (7 days)         |
///
/// Each lower bound belongs to its row (an age of exactly 1 hour is spaced by the hour).
///
/// The rule, as Syncthing documents it, keeps the *oldest* version of each interval: walking the
/// versions from oldest to newest, the oldest one is kept, and each later one is kept only when it was
/// replaced at least its spacing after the last version kept; otherwise it goes. Anchoring on the
/// oldest versions makes the thinning stable: adding a newer version never changes the fate of older ones,
/// running it again on what it kept keeps everything (at the same `now`), and a version is only
/// dropped later when, as it ages, its spacing grows past its distance to the previous kept one.
/// (Anchoring on the newest instead would let every new version evict the one kept before it, and
/// thinning after each change would erode the history to almost nothing.) The price is that the
/// newest archived versions go while they are closer than 30 s to the one kept before them; the
/// file's latest version is not an archived version and is always kept by the caller.
public enum StaggeredThinning {
    /// `times`: the times (ns) at which each archived (non-latest) version of one file was replaced, any order.
    /// Returns the indexes (into `times`) to keep: versions older than `maxAge` go; of the rest at most one is kept per
    /// 30 s for the first hour, per hour for the first day, per day for 30 days, per week up to `maxAge`.
    ///
    /// "Older than `maxAge`" means an age strictly greater than `maxAge` (one exactly `maxAge` old stays);
    /// a `maxAge` of 0 or less means no age limit, as Syncthing's 0. Versions with equal times count in
    /// index order, so the lowest index of a tie is the one that can be kept. Pure and deterministic.
    public static func keep(times: [Int64], now: Int64, maxAge: Int64) -> Set<Int> {
        let oldestFirst = times.indices
            .filter { maxAge <= 0 || age(of: times[$0], now: now) <= maxAge }
            .sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        var kept = Set<Int>()
        var lastKeptTime: Int64?
        for index in oldestFirst {
            let time = times[index]
            if let lastKeptTime, difference(time, lastKeptTime) < spacing(forAge: age(of: time, now: now)) {
                continue
            }
            kept.insert(index)
            lastKeptTime = time
        }
        return kept
    }

    /// The spacing between kept versions of this age (ns), from the table above.
    static func spacing(forAge age: Int64) -> Int64 {
        let second = CalendarPeriod.nanosecondsPerSecond
        let hour = CalendarPeriod.nanosecondsPerHour
        let day = CalendarPeriod.nanosecondsPerDay
        switch age {
        case ..<hour: return 30 * second
        case ..<day: return hour
        case ..<(30 * day): return day
        default: return 7 * day
        }
    }

    /// `now - time`, at least 0, saturating at `Int64.max` instead of overflowing.
    static func age(of time: Int64, now: Int64) -> Int64 {
        max(0, difference(now, time))
    }

    /// `later - earlier`, saturating instead of overflowing.
    private static func difference(_ later: Int64, _ earlier: Int64) -> Int64 {
        let (result, overflow) = later.subtractingReportingOverflow(earlier)
        return overflow ? (later > earlier ? .max : .min) : result
    }
}
