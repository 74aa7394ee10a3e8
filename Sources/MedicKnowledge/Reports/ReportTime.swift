import MedicText

/// Times in reports: RFC 3339 text read into seconds since 1970 (UTC) and written back, in pure
/// arithmetic (no calendar, no locale, no wall clock), so the same input always gives the same
/// report and a million records are not a million `DateFormatter` calls.
public enum ReportTime {
    /// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time
    /// (`2026-11-23T08:00:00Z`, `2026-11-23T08:00:00.250+01:00`; `t` and `z` accepted); nil when
    /// it is not one (a date alone, a month 13, a missing offset).
    public static func parse(_ text: String) -> Double? {
        Timestamp(rfc3339: text)?.secondsSince1970
    }

    /// `seconds` as RFC 3339 in UTC with milliseconds (cut, not rounded):
    /// `2026-11-23T08:00:00.000Z`; `-` for a time that is not finite or not within 10^14
    /// seconds of 1970.
    public static func format(_ seconds: Double) -> String {
        Timestamp(secondsSince1970: seconds, roundedToMilliseconds: .down)?.rfc3339() ?? "-"
    }

    /// The UTC calendar date of `seconds`: `2026-11-23`.
    public static func date(_ seconds: Double) -> String { String(format(seconds).prefix(10)) }
}
