/// Durations of retention rules, written as a number and a unit, one or more times: "30s", "90min",
/// "36h", "7d", "2w", "6m", "1y2m3d4h" (restic's `--keep-within` form), "1d12h30min".
///
/// Units, largest first, with fixed lengths (a duration is a count of nanoseconds, not a calendar
/// step, so a "month" does not depend on which month it starts from; restic instead steps back
/// calendar years and months, which differs by a few days at most):
///
/// | unit  | meaning    | length     |
/// |-------|------------|------------|
/// | `y`   | year       | 365 days   |
/// | `m`   | month      | 30 days    |
/// | `w`   | week       | 7 days     |
/// | `d`   | day        | 24 hours   |
/// | `h`   | hour       | 60 minutes |
/// | `min` | minute     | 60 seconds |
/// | `s`   | second     |            |
/// | `ns`  | nanosecond |            |
///
/// `m` is a month, as in restic (so "6m" keeps half a year rather than six minutes: a misread
/// duration then keeps too much instead of forgetting too much); minutes are `min`.
public enum RetentionDuration {
    /// The units in the order they must appear, with their lengths in nanoseconds.
    static let units: [(name: String, nanoseconds: Int64)] = [
        ("y", 365 * CalendarPeriod.nanosecondsPerDay),
        ("m", 30 * CalendarPeriod.nanosecondsPerDay),
        ("w", 7 * CalendarPeriod.nanosecondsPerDay),
        ("d", CalendarPeriod.nanosecondsPerDay),
        ("h", CalendarPeriod.nanosecondsPerHour),
        ("min", 60 * CalendarPeriod.nanosecondsPerSecond),
        ("s", CalendarPeriod.nanosecondsPerSecond),
        ("ns", 1),
    ]

    /// Parses `text` into nanoseconds.
    ///
    /// The text is one or more parts, each a run of ASCII digits followed by a unit from the table
    /// above, with nothing between or around them (no spaces, signs or fractions). Units must appear
    /// largest first and at most once each ("1d12h", not "12h1d" or "1d1d").
    ///
    /// - Throws: `StoreError.invalidArgument`, saying what to type, when the text is empty, has no
    ///   unit or an unknown one, repeats a unit or puts it out of order, totals zero, or exceeds
    ///   `Int64.max` nanoseconds (about 292 years).
    public static func parse(_ text: String) throws -> Int64 {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw invalid(text, "it is empty") }
        var position = 0
        var nextUnit = 0  // index into `units` of the largest unit still allowed
        var total: Int64 = 0
        while position < bytes.count {
            let numberStart = position
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            guard position > numberStart else {
                throw invalid(text, "expected a number at \"\(suffix(bytes, from: numberStart))\"")
            }
            let unitStart = position
            while position < bytes.count, isLetter(bytes[position]) { position += 1 }
            let number = String(decoding: bytes[numberStart..<unitStart], as: UTF8.self)
            let unit = String(decoding: bytes[unitStart..<position], as: UTF8.self)
            guard !unit.isEmpty else {
                throw invalid(text, "\"\(number)\" has no unit")
            }
            guard let unitIndex = units.firstIndex(where: { $0.name == unit }) else {
                throw invalid(text, "unknown unit \"\(unit)\"")
            }
            guard unitIndex >= nextUnit else {
                throw invalid(text, "unit \"\(unit)\" repeated or out of order (write the largest unit first)")
            }
            nextUnit = unitIndex + 1
            guard let count = Int64(number) else { throw tooLong(text) }
            let (part, multiplyOverflow) = count.multipliedReportingOverflow(by: units[unitIndex].nanoseconds)
            let (sum, addOverflow) = total.addingReportingOverflow(part)
            guard !multiplyOverflow, !addOverflow else { throw tooLong(text) }
            total = sum
        }
        guard total > 0 else { throw invalid(text, "it must be longer than zero") }
        return total
    }

    /// Formats a positive duration in the units of `parse` (largest first, without weeks, as restic
    /// prints months and days), e.g. 36 hours as "1d12h" and 14 days as "14d"; `parse` reads the
    /// result back to the same value. Zero and negative values format as "0s".
    public static func format(_ nanoseconds: Int64) -> String {
        guard nanoseconds > 0 else { return "0s" }
        var remaining = nanoseconds
        var text = ""
        for unit in units where unit.name != "w" {
            let count = remaining / unit.nanoseconds
            if count > 0 {
                text += "\(count)\(unit.name)"
                remaining -= count * unit.nanoseconds
            }
        }
        return text
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func suffix(_ bytes: [UInt8], from position: Int) -> String {
        String(decoding: bytes[position...], as: UTF8.self)
    }

    private static func invalid(_ text: String, _ problem: String) -> StoreError {
        .invalidArgument("invalid duration \"\(text)\": \(problem); write a number and a unit "
            + "(y, m = 30 days, w, d, h, min, s), largest first, e.g. 7d, 36h or 1y6m")
    }

    private static func tooLong(_ text: String) -> StoreError {
        invalid(text, "it is longer than \(Int64.max / units[0].nanoseconds) years")
    }
}
