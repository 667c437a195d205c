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
