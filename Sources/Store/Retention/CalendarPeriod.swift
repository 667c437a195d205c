/// The calendar periods of the bucket rules of `RetentionPolicy` (hourly, daily, weekly, monthly,
/// yearly), on natural UTC boundaries: hours :00 to :59, days 00:00 to 23:59, ISO 8601 weeks Monday
/// 00:00 to Sunday 23:59, calendar months and years.
///
/// Pure arithmetic on nanoseconds since the Unix epoch (proleptic Gregorian calendar, times before
/// 1970 included): no Foundation calendar, so the result never depends on the machine's time zone.
enum CalendarPeriod: CaseIterable, Sendable {
    case hour, day, week, month, year

    static let nanosecondsPerSecond: Int64 = 1_000_000_000
    static let nanosecondsPerHour: Int64 = 3_600 * nanosecondsPerSecond
    static let nanosecondsPerDay: Int64 = 24 * nanosecondsPerHour

    /// The word used in a decision's reason: "hourly", "daily", "weekly", "monthly", "yearly".
    var adjective: String {
        switch self {
        case .hour: "hourly"
        case .day: "daily"
        case .week: "weekly"
        case .month: "monthly"
        case .year: "yearly"
        }
    }

    /// A key that is equal for two times exactly when they fall in the same period. Keys grow with
    /// time, so walking times from newest to oldest meets each period's keys in one run.
    func bucket(of time: Int64) -> Int64 {
        let day = Self.floorDivide(time, Self.nanosecondsPerDay)
        switch self {
        case .hour:
            return Self.floorDivide(time, Self.nanosecondsPerHour)
        case .day:
            return day
        case .week:
            // The day number of the week's Monday: 1970-01-01 was a Thursday, three days after one.
            return day - Self.floorModulo(day + 3, 7)
        case .month:
            let date = CivilDate(daysSinceEpoch: day)
            return date.year * 12 + (date.month - 1)
        case .year:
            return CivilDate(daysSinceEpoch: day).year
        }
    }

    /// Division rounding towards minus infinity, so times before the epoch fall in the right period.
    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor < 0) ? quotient - 1 : quotient
    }

    static func floorModulo(_ value: Int64, _ divisor: Int64) -> Int64 {
        value - floorDivide(value, divisor) * divisor
    }
}
