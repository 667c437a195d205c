import Testing
import TestSupport
@testable import Store

/// Retention: restic-style `RetentionPolicy` with its UTC calendar and durations, and Syncthing-style
/// `StaggeredThinning`. Expected answers are worked out by hand (see the comments next to them).
@Suite struct RetentionTests {

    // MARK: - Calendar

    @Suite struct Calendars {
        @Test("civil dates convert to and from known day numbers", arguments: [
            (1970, 1, 1, 0), (1969, 12, 31, -1), (2000, 3, 1, 11_017), (2024, 2, 29, 19_782),
            (1900, 3, 1, -25_508), (2100, 3, 1, 47_541), (1600, 1, 1, -135_140),
        ])
        func knownDays(year: Int, month: Int, day: Int, days: Int64) {
            let date = CivilDate(year: Int64(year), month: Int64(month), day: Int64(day))
            #expect(date.daysSinceEpoch == days)
            #expect(CivilDate(daysSinceEpoch: days) == date)
        }

        @Test func everyDayFrom1600To2400FollowsTheDayBefore() {
            var previous = CivilDate(daysSinceEpoch: -135_141)
            #expect(previous == CivilDate(year: 1599, month: 12, day: 31))
            for days in Int64(-135_140)...Int64(157_000) {
                let date = CivilDate(daysSinceEpoch: days)
                let expected = previous.day < monthLength(previous.year, previous.month)
                    ? CivilDate(year: previous.year, month: previous.month, day: previous.day + 1)
                    : previous.month < 12 ? CivilDate(year: previous.year, month: previous.month + 1, day: 1)
                                          : CivilDate(year: previous.year + 1, month: 1, day: 1)
                guard date == expected, date.daysSinceEpoch == days else {
                    Issue.record("day \(days): \(date), expected \(expected)")
                    return
                }
                previous = date
            }
        }

        /// ISO weeks from an independent source (Python's `isocalendar`), across year boundaries.
        @Test func weekBucketsAreISOWeeks() {
            let days: [(time: Int64, isoWeek: String)] = [
                (utc(2020, 12, 27, 23, 59, 59), "2020-W52"), (utc(2020, 12, 28), "2020-W53"),
                (utc(2020, 12, 31, 12), "2020-W53"), (utc(2021, 1, 3, 23, 59, 59), "2020-W53"),
                (utc(2021, 1, 4), "2021-W01"), (utc(2024, 12, 29, 12), "2024-W52"),
                (utc(2024, 12, 30), "2025-W01"), (utc(2025, 1, 1, 8), "2025-W01"),
                (utc(2027, 1, 1), "2026-W53"), (utc(2027, 1, 3, 23), "2026-W53"), (utc(2027, 1, 4), "2027-W01"),
            ]
            for first in days {
                let monday = CalendarPeriod.week.bucket(of: first.time)
                #expect(CalendarPeriod.floorModulo(monday + 3, 7) == 0, "a week's key is its Monday")
                for second in days {
                    let same = CalendarPeriod.week.bucket(of: second.time) == monday
                    #expect(same == (first.isoWeek == second.isoWeek), "\(first.isoWeek) vs \(second.isoWeek)")
                }
            }
        }

        @Test("periods end exactly at their UTC boundaries", arguments: [
            (CalendarPeriod.hour, utc(2024, 3, 1, 10, 59, 59), utc(2024, 3, 1, 11)),
            (.day, utc(2024, 3, 1, 23, 59, 59), utc(2024, 3, 2)),
            (.day, utc(1969, 12, 31, 23, 59, 59), utc(1970, 1, 1)),
            (.week, utc(2024, 3, 3, 23, 59, 59), utc(2024, 3, 4)),
            (.month, utc(2023, 2, 28, 23, 59, 59), utc(2023, 3, 1)),
            (.month, utc(2024, 2, 29, 23, 59, 59), utc(2024, 3, 1)),
            (.month, utc(2024, 4, 30, 23, 59, 59), utc(2024, 5, 1)),
            (.year, utc(2019, 12, 31, 23, 59, 59), utc(2020, 1, 1)),
        ])
        func boundaries(period: CalendarPeriod, lastOfPeriod: Int64, firstOfNext: Int64) {
            #expect(period.bucket(of: lastOfPeriod + 999_999_999) == period.bucket(of: lastOfPeriod))
            #expect(period.bucket(of: lastOfPeriod + 1_000_000_000) == period.bucket(of: firstOfNext))
            #expect(period.bucket(of: firstOfNext) == period.bucket(of: lastOfPeriod) + 1
                    || period == .week && period.bucket(of: firstOfNext) == period.bucket(of: lastOfPeriod) + 7)
        }
    }

    // MARK: - Policy, one rule at a time

    @Suite struct Policy {
        @Test("isEmpty is true exactly when no rule can keep anything", arguments: [
            (RetentionPolicy(), true),
            (policy { $0.keepLast = 0 }, true),
            (policy { $0.keepDaily = 0; $0.keepYearly = 0 }, true),
            (policy { $0.keepWithin = 0 }, true),
            (policy { $0.keepWithin = -5 }, true),
            (policy { $0.keepLast = 1 }, false),
            (policy { $0.keepHourly = -1 }, false),
            (policy { $0.keepMonthly = 2 }, false),
            (policy { $0.keepWithin = 1 }, false),
            (policy { $0.keepTags = ["x"] }, false),
        ])
        func isEmpty(policy: RetentionPolicy, empty: Bool) {
            #expect(policy.isEmpty == empty)
        }

        /// One snapshot an hour, a to e.
        static let hourly = ["a", "b", "c", "d", "e"].enumerated().map { snapshot($1, utc(2024, 5, 1, $0)) }

        @Test("keep-last n keeps the n newest", arguments: [
            (1, ["e"]), (3, ["c", "d", "e"]), (5, ["a", "b", "c", "d", "e"]), (9, ["a", "b", "c", "d", "e"]),
            (-1, ["a", "b", "c", "d", "e"]), (0, []),
        ])
        func keepLast(count: Int, expected: [String]) {
            let decisions = policy { $0.keepLast = count }.decide(Self.hourly)
            #expect(keptIDs(decisions) == expected)
            #expect(decisions.filter(\.keep).allSatisfy { $0.reasons == ["last snapshot"] })
        }

        @Test("calendar rules keep the newest snapshot of each of the last n periods that have one",
              arguments: BucketCase.all)
        func calendarRule(_ table: BucketCase) {
            let decisions = table.policy.decide(table.snapshots)
            #expect(keptIDs(decisions) == table.expected)
            let reason = "\(table.period.adjective) snapshot"
            #expect(decisions.filter(\.keep).allSatisfy { $0.reasons == [reason] })
        }

        /// restic's documentation example: one backup every Sunday for 12 weeks, `--keep-daily 4`.
        @Test func weeklyBackupsWithKeepDailyKeepTheLastFour() {
            let sundays = (0..<12).map { snapshot("w\($0)", utc(2019, 9, 1, 11) + Int64($0) * 7 * day) }
            #expect(keptIDs(policy { $0.keepDaily = 4 }.decide(sundays)) == ["w8", "w9", "w10", "w11"])
        }

        @Test func keepWithinIsMeasuredFromTheNewestSnapshotAndExcludesTheBoundary() {
            let newest = utc(1999, 7, 1, 12)  // long ago: the clock plays no part
            let week = 7 * day
            let snapshots = [
                snapshot("beyond", newest - week - 1), snapshot("boundary", newest - week),
                snapshot("inside", newest - week + 1), snapshot("yesterday", newest - day), snapshot("newest", newest),
            ]
            let decisions = policy { $0.keepWithin = try! RetentionDuration.parse("7d") }.decide(snapshots)
            #expect(keptIDs(decisions) == ["inside", "yesterday", "newest"])
            #expect(decisions.filter(\.keep).allSatisfy { $0.reasons == ["within 7d"] })
        }

        @Test func keepWithinAlwaysKeepsTheNewestAndSurvivesExtremeTimes() {
            let snapshots = [snapshot("ancient", .min), snapshot("now", .max)]
            let decisions = policy { $0.keepWithin = 1 }.decide(snapshots)
            #expect(keptIDs(decisions) == ["now"])
            #expect(decisions[1].reasons == ["within 1ns"])
        }

        @Test func keepTagKeepsEverySnapshotWithAnyListedTag() {
            let snapshots = [
                snapshot("daily", utc(2024, 1, 1), tags: ["daily"]),
                snapshot("both", utc(2024, 1, 2), tags: ["weekly", "daily"]),
                snapshot("untagged", utc(2024, 1, 3)),
                snapshot("capital", utc(2024, 1, 4), tags: ["Daily"]),
                snapshot("other", utc(2024, 1, 5), tags: ["manual"]),
            ]
            let decisions = policy { $0.keepTags = ["daily", "weekly", "daily"] }.decide(snapshots)
            #expect(reasonsByID(decisions) == [
                "daily": ["tag daily"], "both": ["tag daily", "tag weekly"],
                "untagged": [], "capital": [], "other": [],
            ])
        }

        @Test func emptyInputAndEmptyPolicy() {
            #expect(policy { $0.keepLast = 3 }.decide([]).isEmpty)
            let decisions = RetentionPolicy().decide(Self.hourly)
            #expect(decisions.map(\.snapshot) == Self.hourly)
            #expect(decisions.allSatisfy { !$0.keep && $0.reasons.isEmpty })
        }

        @Test func snapshotsWithEqualTimesCountInInputOrder() {
            let first = snapshot("first", utc(2024, 1, 1, 9)), second = snapshot("second", utc(2024, 1, 1, 9))
            let rules = policy { $0.keepLast = 1; $0.keepDaily = 1 }
            #expect(keptIDs(rules.decide([first, second])) == ["second"])
            #expect(keptIDs(rules.decide([second, first])) == ["first"])
        }
    }

    // MARK: - Policy, rules together

    @Suite struct Combined {
        /// Fri 5 Jan 2024 ... Tue 9 Jan 2024, two snapshots on the Tuesday; s2 tagged "manual".
        static let snapshots = [
            snapshot("s1", utc(2024, 1, 5, 2)), snapshot("s2", utc(2024, 1, 6, 2), tags: ["manual"]),
            snapshot("s3", utc(2024, 1, 7, 2)), snapshot("s4", utc(2024, 1, 8, 2)),
            snapshot("s5", utc(2024, 1, 9, 2)), snapshot("s6", utc(2024, 1, 9, 14)),
        ]

        static let rules = policy {
            $0.keepLast = 2; $0.keepHourly = 2; $0.keepDaily = 3; $0.keepWeekly = 2
            $0.keepMonthly = 1; $0.keepYearly = 1; $0.keepWithin = day; $0.keepTags = ["manual"]
        }

        // Newest first: s6 s5 s4 s3 s2 s1. last 2: s6 s5. hourly 2: s6 s5. daily 3: s6 (9th) s4 (8th)
        // s3 (7th). weekly 2: s6 (week of Mon 8th) s3 (Sun 7th ends the week before). monthly and
        // yearly 1: s6. within 1d of s6 (9th 14:00): s5 (12 h) but not s4 (36 h). tag: s2.
        static let expected: [String: [String]] = [
            "s1": [],
            "s2": ["tag manual"],
            "s3": ["daily snapshot", "weekly snapshot"],
            "s4": ["daily snapshot"],
            "s5": ["last snapshot", "hourly snapshot", "within 1d"],
            "s6": ["last snapshot", "hourly snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot",
                   "yearly snapshot", "within 1d"],
        ]

        @Test func everyRuleThatKeepsASnapshotIsListedInRuleOrder() {
            let decisions = Self.rules.decide(Self.snapshots)
            #expect(decisions.map(\.snapshot) == Self.snapshots)
            #expect(reasonsByID(decisions) == Self.expected)
            #expect(decisions.allSatisfy { $0.keep == !$0.reasons.isEmpty })
        }

        @Test("unsorted input: same decisions, returned in input order", arguments: [
            [5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3], [3, 5, 0, 4, 2, 1],
        ])
        func unsortedInput(permutation: [Int]) {
            let shuffled = permutation.map { Self.snapshots[$0] }
            let decisions = Self.rules.decide(shuffled)
            #expect(decisions.map(\.snapshot) == shuffled)
            #expect(reasonsByID(decisions) == Self.expected)
        }

        /// Against an independent model: group by period, take the newest of the most recent n groups.
        @Test(arguments: [1, 2, 3] as [UInt64])
        func calendarRulesMatchAGroupingModel(seed: UInt64) {
            var random = SplitMix64(seed: seed)
            let base = utc(2023, 11, 20)
            let snapshots = (0..<150).map { index in
                let spread = [hour, day, 30 * day, 400 * day][Int(random.next() % 4)]
                return snapshot("x\(index)", base + Int64(random.next() % UInt64(spread)))
            }
            for period in CalendarPeriod.allCases {
                for count in [1, 3, 10, 1_000, -1] {
                    var rules = RetentionPolicy()
                    switch period {
                    case .hour: rules.keepHourly = count
                    case .day: rules.keepDaily = count
                    case .week: rules.keepWeekly = count
                    case .month: rules.keepMonthly = count
                    case .year: rules.keepYearly = count
                    }
                    let groups = Dictionary(grouping: snapshots.indices) { period.bucket(of: snapshots[$0].time) }
                    let newestOfRecentGroups = groups.keys.sorted(by: >).prefix(count < 0 ? groups.count : count)
                        .map { key in groups[key]!.max { (snapshots[$0].time, $0) < (snapshots[$1].time, $1) }! }
                    let decisions = rules.decide(snapshots)
                    #expect(Set(decisions.indices.filter { decisions[$0].keep }) == Set(newestOfRecentGroups),
                            "\(period) \(count)")
                }
            }
        }
    }

    // MARK: - Durations

    @Suite struct Durations {
        @Test("parses", arguments: [
            ("30s", 30 * second), ("90min", 90 * 60 * second), ("36h", 36 * hour), ("7d", 7 * day),
            ("2w", 14 * day), ("6m", 180 * day), ("1y", 365 * day), ("1y2m3d", (365 + 60 + 3) * day),
            ("1y2m3d4h", (365 + 60 + 3) * day + 4 * hour), ("1d12h30min15s", 36 * hour + 30 * 60 * second + 15 * second),
            ("1m30min", 30 * day + 30 * 60 * second), ("007d", 7 * day), ("1ns", 1), ("1s500ns", second + 500),
            ("292y", 292 * 365 * day),
        ])
        func parses(text: String, nanoseconds: Int64) throws {
            #expect(try RetentionDuration.parse(text) == nanoseconds)
        }

        @Test("rejects with invalidArgument", arguments: [
            "", "7", "d", "7x", "7D", "7days", "1h1d", "1d1d", "1min1m", "-7d", "+7d", "7 d", " 7d", "7d ",
            "1.5h", "0d", "0s0ns", "293y", "99999999999999999999s", "1y2m3d4h5", "١d",
        ])
        func rejects(text: String) throws {
            let error = #expect(throws: StoreError.self) { try RetentionDuration.parse(text) }
            guard case .invalidArgument(let message) = try #require(error) else {
                Issue.record("not invalidArgument: \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("invalid duration \"\(text)\""))
            #expect(message.contains("e.g. 7d"), "the message says what to type")
        }

        @Test("formats largest unit first, without weeks", arguments: [
            (7 * day, "7d"), (36 * hour, "1d12h"), (14 * day, "14d"), (30 * day, "1m"), (365 * day, "1y"),
            ((365 + 60 + 3) * day + 4 * hour, "1y2m3d4h"), (90 * 60 * second, "1h30min"),
            (1_500_000_000, "1s500000000ns"), (0, "0s"), (-5, "0s"),
        ])
        func formats(nanoseconds: Int64, text: String) {
            #expect(RetentionDuration.format(nanoseconds) == text)
        }

        @Test func formatReadsBackToTheSameValue() throws {
            var random = SplitMix64(seed: 7)
            for _ in 0..<2_000 {
                let value = max(1, Int64(random.next() >> UInt64(1 + random.next() % 60)))
                #expect(try RetentionDuration.parse(RetentionDuration.format(value)) == value)
            }
            #expect(try RetentionDuration.parse(RetentionDuration.format(.max)) == .max)
        }
    }

    // MARK: - Staggered thinning

    @Suite struct Thinning {
        static let now = utc(2024, 6, 1, 12)

        /// The indexes kept, given the versions' ages in seconds.
        static func keptAges(_ ages: [Int64], maxAge: Int64 = 365 * day) -> [Int64] {
            let times = ages.map { now - $0 * second }
            return StaggeredThinning.keep(times: times, now: now, maxAge: maxAge).map { ages[$0] }.sorted(by: >)
        }

        @Test("hand-worked cases (ages in seconds, kept ages oldest first)", arguments: [
            // Walk from the oldest: 70 kept; 50 is 20 s after it (< 30 s): dropped; 40 is 30 s after
            // 70: kept; 20 is 20 s after 40: dropped; 5 is 35 s after 40: kept.
            ([5, 20, 40, 50, 70], [70, 40, 5]),
            // 2 h kept; 1.5 h is spaced by the hour but only 30 min after: dropped; 1 h (spaced by the
            // hour) is 1 h after: kept; 59 min and 58.5 min are spaced by 30 s: kept.
            ([7_200, 5_400, 3_600, 3_540, 3_510], [7_200, 3_600, 3_540, 3_510]),
            // The order of the input does not matter.
            ([3_510, 7_200, 3_540, 5_400, 3_600], [7_200, 3_600, 3_540, 3_510]),
            // Day band: 3 d kept; 2.5 d is only 12 h after: dropped; 2 d is 1 d after: kept; 1.5 d: dropped.
            ([259_200, 216_000, 172_800, 129_600], [259_200, 172_800]),
            // Future times count as age 0 (spaced by 30 s): +20 kept, +80 kept, +100 only 20 s later.
            ([-100, -80, -20], [-20, -80]),
            ([], []),
        ] as [([Int64], [Int64])])
        func handWorked(ages: [Int64], expected: [Int64]) {
            #expect(Self.keptAges(ages) == expected.sorted(by: >))
        }

        @Test func versionsEvery10SecondsOverTwoHours() {
            // Ages 10 s ... 7200 s. 7200 (oldest) kept; 7190 ... 3610 are spaced by the hour and
            // within an hour of it; 3600 is exactly 1 h after: kept. Below 1 h spacing is 30 s: 3570,
            // 3540, ..., 30 (119 versions); 20 and 10 are under 30 s after 30. 121 in all.
            let ages = (1...720).map { Int64($0) * 10 }
            let expected = [7_200, 3_600] + stride(from: 3_570, through: 30, by: -30).map { Int64($0) }
            let kept = Self.keptAges(ages)
            #expect(kept.count == 121)
            #expect(kept == expected)
        }

        @Test func dailyVersionsForSixtyDays() {
            // Ages 1 ... 60 days. 60 d kept; 59 ... 54 d are spaced by the week: dropped; 53, 46, 39,
            // 32 kept; 31 and 30 are 1-2 days after 32: dropped; 29 d and younger are spaced by the day: all kept.
            let ages = (1...60).map { Int64($0) * day / second }
            let expected = ([60, 53, 46, 39, 32] + Array((1...29).reversed())).map { Int64($0) * day / second }
            #expect(Self.keptAges(ages) == expected)
        }

        @Test func maxAgeBoundaryAndUnlimited() {
            let ages: [Int64] = [86_401, 86_400, 82_800, 81_000]  // 1 d + 1 s, 1 d, 23 h, 22.5 h
            // 1 d + 1 s is older than maxAge; 1 d is the oldest left: kept; 23 h is 1 h after it: kept;
            // 22.5 h is 30 min after 23 h (spaced by the hour): dropped.
            #expect(Self.keptAges(ages, maxAge: day) == [86_400, 82_800])
            // maxAge 0 or less: no limit, so 1 d + 1 s is kept and 1 d (1 s after it, spaced by the day)
            // goes; 23 h is 1 h 1 s after 1 d + 1 s: kept.
            #expect(Self.keptAges(ages, maxAge: 0) == [86_401, 82_800])
            #expect(Self.keptAges(ages, maxAge: -1) == [86_401, 82_800])
        }

        @Test func equalTimesKeepTheLowestIndex() {
            let time = Self.now - 10 * day
            #expect(StaggeredThinning.keep(times: [time, time, time], now: Self.now, maxAge: 0) == [0])
        }

        @Test func extremeTimesDoNotOverflow() {
            let kept = StaggeredThinning.keep(times: [.min, .max, 0], now: 0, maxAge: 0)
            #expect(kept == [0, 1, 2])
            #expect(StaggeredThinning.keep(times: [.min, .max, 0], now: .max, maxAge: day) == [1])
        }

        @Test("properties on random histories", arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
        func properties(seed: UInt64) {
            var random = SplitMix64(seed: seed)
            let now = Self.now
            let maxAge = [0, hour, day, 45 * day, 365 * day][Int(seed % 5)]
            let times = (0..<300).map { _ in
                let scale = [2 * 60 * second, 2 * hour, 2 * day, 60 * day, 500 * day][Int(random.next() % 5)]
                return now - Int64(random.next() % UInt64(scale))
            }
            let kept = StaggeredThinning.keep(times: times, now: now, maxAge: maxAge)
            func age(_ index: Int) -> Int64 { now - times[index] }
            let alive = times.indices.filter { maxAge <= 0 || age($0) <= maxAge }

            // Nothing older than maxAge is kept.
            #expect(kept.allSatisfy { maxAge <= 0 || age($0) <= maxAge })
            // Consecutive kept versions are at least the younger one's spacing apart...
            let keptOldestFirst = kept.sorted { (times[$0], $0) < (times[$1], $1) }
            for (older, younger) in zip(keptOldestFirst, keptOldestFirst.dropFirst()) {
                #expect(times[younger] - times[older] >= spacing(age(younger)))
            }
            // ...so each interval of each age band holds at most one kept version.
            let bands: [(start: Int64, spacing: Int64)] = [(0, 30 * second), (hour, hour), (day, day), (30 * day, 7 * day)]
            var occupied = Set<[Int64]>()
            for index in kept {
                let band = bands.lastIndex { $0.start <= age(index) }!
                let interval = (age(index) - bands[band].start) / bands[band].spacing
                #expect(occupied.insert([Int64(band), interval]).inserted, "two kept in band \(band) interval \(interval)")
            }
            // Nothing goes needlessly: a dropped version has a kept one at most its spacing before it.
            for index in alive where !kept.contains(index) {
                #expect(kept.contains { times[$0] <= times[index] && times[index] - times[$0] < spacing(age(index)) })
            }
            // The oldest version within maxAge is kept.
            if let oldest = alive.min(by: { (times[$0], $0) < (times[$1], $1) }) { #expect(kept.contains(oldest)) }
            // Thinning what was kept keeps all of it.
            let keptList = kept.sorted()
            #expect(StaggeredThinning.keep(times: keptList.map { times[$0] }, now: now, maxAge: maxAge).count == kept.count)
            // Newer versions do not change what happens to older ones.
            let cut = times.sorted()[times.count / 2]
            let older = times.indices.filter { times[$0] < cut }
            let keptOfOlder = StaggeredThinning.keep(times: older.map { times[$0] }, now: now, maxAge: maxAge)
            #expect(Set(keptOfOlder.map { older[$0] }) == kept.filter { times[$0] < cut })
        }

        /// The spacing table, restated independently of `StaggeredThinning.spacing`.
        func spacing(_ age: Int64) -> Int64 {
            age < hour ? 30 * second : age < day ? hour : age < 30 * day ? day : 7 * day
        }
    }
}

// MARK: - Helpers

private let second: Int64 = 1_000_000_000
private let hour: Int64 = 3_600 * second
private let day: Int64 = 24 * hour

/// Nanoseconds since the epoch of a UTC date and time, counted day by day (independently of `CivilDate`).
private func utc(_ year: Int, _ month: Int, _ dayOfMonth: Int, _ hours: Int = 0, _ minutes: Int = 0, _ seconds: Int = 0) -> Int64 {
    var days = 0
    if year >= 1970 {
        for y in 1970..<year { days += isLeap(Int64(y)) ? 366 : 365 }
    } else {
        for y in year..<1970 { days -= isLeap(Int64(y)) ? 366 : 365 }
    }
    for m in 1..<month { days += Int(monthLength(Int64(year), Int64(m))) }
    days += dayOfMonth - 1
    return Int64(((days * 24 + hours) * 60 + minutes) * 60 + seconds) * second
}

private func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

private func monthLength(_ year: Int64, _ month: Int64) -> Int64 {
    month == 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].contains(month) ? 30 : 31
}

private func snapshot(_ id: String, _ time: Int64, tags: [String] = []) -> Snapshot {
    Snapshot(id: id, folderPath: Array("/data".utf8), time: time, host: "host", tags: tags, sequence: 0,
             files: 0, bytes: 0, partial: false, metadataID: nil)
}

private func policy(_ configure: (inout RetentionPolicy) throws -> Void) rethrows -> RetentionPolicy {
    var policy = RetentionPolicy()
    try configure(&policy)
    return policy
}

private func keptIDs(_ decisions: [RetentionDecision]) -> [String] {
    decisions.filter(\.keep).map(\.snapshot.id)
}

private func reasonsByID(_ decisions: [RetentionDecision]) -> [String: [String]] {
    Dictionary(uniqueKeysWithValues: decisions.map { ($0.snapshot.id, $0.reasons) })
}

extension RetentionTests {
    /// One calendar rule on a hand-built list, with the snapshots it keeps (input order).
    struct BucketCase: Sendable, CustomTestStringConvertible {
        var name: String
        var period: CalendarPeriod
        var count: Int
        var snapshots: [Snapshot]
        var expected: [String]

        var testDescription: String { "\(name), keep \(count)" }

        var policy: RetentionPolicy {
            var policy = RetentionPolicy()
            switch period {
            case .hour: policy.keepHourly = count
            case .day: policy.keepDaily = count
            case .week: policy.keepWeekly = count
            case .month: policy.keepMonthly = count
            case .year: policy.keepYearly = count
            }
            return policy
        }

        /// Two in the 10:00 hour, none at 12:00, 13:59 and 14:00 in different hours.
        static let hours = [
            snapshot("10:05", utc(2024, 3, 1, 10, 5)), snapshot("10:40", utc(2024, 3, 1, 10, 40)),
            snapshot("11:10", utc(2024, 3, 1, 11, 10)), snapshot("13:59", utc(2024, 3, 1, 13, 59, 59)),
            snapshot("14:00", utc(2024, 3, 1, 14)),
        ]
        /// Two on the 1st (one a second before midnight), gaps of days, two on the 9th.
        static let days = [
            snapshot("1st 08:00", utc(2024, 3, 1, 8)), snapshot("1st 23:59", utc(2024, 3, 1, 23, 59, 59)),
            snapshot("2nd 00:00", utc(2024, 3, 2)), snapshot("5th", utc(2024, 3, 5, 12)),
            snapshot("9th 06:00", utc(2024, 3, 9, 6)), snapshot("9th 07:00", utc(2024, 3, 9, 7)),
        ]
        /// ISO weeks 2020-W52, 2020-W53 (28 Dec to 3 Jan), 2021-W01, 2021-W02.
        static let weeks = [
            snapshot("Sun 27 Dec", utc(2020, 12, 27, 23, 59, 59)), snapshot("Mon 28 Dec", utc(2020, 12, 28, 9)),
            snapshot("Thu 31 Dec", utc(2020, 12, 31, 9)), snapshot("Sun 3 Jan", utc(2021, 1, 3, 23)),
            snapshot("Mon 4 Jan", utc(2021, 1, 4)), snapshot("Sun 10 Jan", utc(2021, 1, 10, 12)),
            snapshot("Mon 11 Jan", utc(2021, 1, 11)),
        ]
        /// Ends of months of 31, 28, 31 and 29 days; no snapshot from April 2023 to January 2024.
        static let months = [
            snapshot("2023-01-31", utc(2023, 1, 31, 12)), snapshot("2023-02-01", utc(2023, 2, 1)),
            snapshot("2023-02-28", utc(2023, 2, 28, 23, 59, 59)), snapshot("2023-03-01", utc(2023, 3, 1)),
            snapshot("2023-03-31", utc(2023, 3, 31, 23)), snapshot("2024-02-29", utc(2024, 2, 29, 10)),
            snapshot("2024-03-01", utc(2024, 3, 1)),
        ]
        /// A year's last second, a gap year (2021), and times before the epoch.
        static let years = [
            snapshot("1969-07-20", utc(1969, 7, 20, 20, 17)), snapshot("1969-12-31", utc(1969, 12, 31, 23, 59, 59)),
            snapshot("2019-12-31", utc(2019, 12, 31, 23, 59, 59)), snapshot("2020-01-01", utc(2020, 1, 1)),
            snapshot("2020-06-01", utc(2020, 6, 1)), snapshot("2022-01-01", utc(2022, 1, 1)),
        ]

        static let all: [BucketCase] = [
            BucketCase(name: "hourly", period: .hour, count: 1, snapshots: hours, expected: ["14:00"]),
            BucketCase(name: "hourly", period: .hour, count: 2, snapshots: hours, expected: ["13:59", "14:00"]),
            BucketCase(name: "hourly, gap hour not counted", period: .hour, count: 3, snapshots: hours,
                       expected: ["11:10", "13:59", "14:00"]),
            BucketCase(name: "hourly, newest of the hour", period: .hour, count: 4, snapshots: hours,
                       expected: ["10:40", "11:10", "13:59", "14:00"]),
            BucketCase(name: "hourly, more than there are", period: .hour, count: 10, snapshots: hours,
                       expected: ["10:40", "11:10", "13:59", "14:00"]),
            BucketCase(name: "hourly, unlimited", period: .hour, count: -1, snapshots: hours,
                       expected: ["10:40", "11:10", "13:59", "14:00"]),
            BucketCase(name: "daily", period: .day, count: 1, snapshots: days, expected: ["9th 07:00"]),
            BucketCase(name: "daily, gap days not counted", period: .day, count: 2, snapshots: days,
                       expected: ["5th", "9th 07:00"]),
            BucketCase(name: "daily, midnight starts a day", period: .day, count: 3, snapshots: days,
                       expected: ["2nd 00:00", "5th", "9th 07:00"]),
            BucketCase(name: "daily, more than there are", period: .day, count: 7, snapshots: days,
                       expected: ["1st 23:59", "2nd 00:00", "5th", "9th 07:00"]),
            BucketCase(name: "weekly", period: .week, count: 1, snapshots: weeks, expected: ["Mon 11 Jan"]),
            BucketCase(name: "weekly, Sunday ends the week", period: .week, count: 2, snapshots: weeks,
                       expected: ["Sun 10 Jan", "Mon 11 Jan"]),
            BucketCase(name: "weekly, ISO week across the new year", period: .week, count: 3, snapshots: weeks,
                       expected: ["Sun 3 Jan", "Sun 10 Jan", "Mon 11 Jan"]),
            BucketCase(name: "weekly, more than there are", period: .week, count: 9, snapshots: weeks,
                       expected: ["Sun 27 Dec", "Sun 3 Jan", "Sun 10 Jan", "Mon 11 Jan"]),
            BucketCase(name: "monthly", period: .month, count: 1, snapshots: months, expected: ["2024-03-01"]),
            BucketCase(name: "monthly, leap day", period: .month, count: 2, snapshots: months,
                       expected: ["2024-02-29", "2024-03-01"]),
            BucketCase(name: "monthly, gap months not counted", period: .month, count: 3, snapshots: months,
                       expected: ["2023-03-31", "2024-02-29", "2024-03-01"]),
            BucketCase(name: "monthly, 28-day February", period: .month, count: 4, snapshots: months,
                       expected: ["2023-02-28", "2023-03-31", "2024-02-29", "2024-03-01"]),
            BucketCase(name: "monthly, more than there are", period: .month, count: 12, snapshots: months,
                       expected: ["2023-01-31", "2023-02-28", "2023-03-31", "2024-02-29", "2024-03-01"]),
            BucketCase(name: "yearly, gap year not counted", period: .year, count: 2, snapshots: years,
                       expected: ["2020-06-01", "2022-01-01"]),
            BucketCase(name: "yearly, last second of a year", period: .year, count: 3, snapshots: years,
                       expected: ["2019-12-31", "2020-06-01", "2022-01-01"]),
            BucketCase(name: "yearly, before the epoch", period: .year, count: 5, snapshots: years,
                       expected: ["1969-12-31", "2019-12-31", "2020-06-01", "2022-01-01"]),
        ]
    }
}
