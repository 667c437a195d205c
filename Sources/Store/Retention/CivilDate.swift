/// A proleptic Gregorian date (UTC), converted to and from days since 1970-01-01.
struct CivilDate: Equatable, Sendable {
    var year: Int64
    /// 1 to 12.
    var month: Int64
    /// 1 to 31.
    var day: Int64

    init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    // Both conversions count years from March 1st so that the leap day is the last day of a year;
    // the 400-year cycle (146 097 days) then repeats exactly, which keeps the arithmetic closed-form.
    private static let daysPerCycle: Int64 = 146_097
    /// Days from 0000-03-01 to 1970-01-01.
    private static let epochOffset: Int64 = 719_468

    init(daysSinceEpoch: Int64) {
        let days = daysSinceEpoch + Self.epochOffset
        let cycle = CalendarPeriod.floorDivide(days, Self.daysPerCycle)
        let dayOfCycle = days - cycle * Self.daysPerCycle  // 0 ... 146 096
        // Remove the leap days that precede dayOfCycle (one per 4 years, none per 100, one per 400)
        // to find the year inside the cycle.
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1_460 + dayOfCycle / 36_524 - dayOfCycle / 146_096) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100)  // 0 ... 365
        // Months from March have lengths 31 30 31 30 31 31 30 31 30 31 31 29: 153 days per 5 months.
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March ... 11 = February
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = cycle * 400 + yearOfCycle + (month <= 2 ? 1 : 0)
    }

    var daysSinceEpoch: Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let cycle = CalendarPeriod.floorDivide(marchYear, 400)
        let yearOfCycle = marchYear - cycle * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfCycle = yearOfCycle * 365 + yearOfCycle / 4 - yearOfCycle / 100 + dayOfYear
        return cycle * Self.daysPerCycle + dayOfCycle - Self.epochOffset
    }
}
