/// Epoch seconds written back as text, for reports (the inverse of `SeriesTimestamp.parse` for
/// RFC 3339).
public enum TimestampText {
    /// `2024-05-01T10:05:00Z`, with milliseconds when the time has a fraction
    /// (`2024-05-01T10:05:00.250Z`); `-` for a time that is not finite.
    public static func rfc3339(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e14 else { return "-" }
        var millis = Int64((seconds * 1000).rounded())
        var days = millis / 86_400_000
        millis -= days * 86_400_000
        if millis < 0 {
            millis += 86_400_000
            days -= 1
        }
        let (year, month, day) = civil(fromDays: Int(days))
        let secondOfDay = Int(millis / 1000), fraction = Int(millis % 1000)
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fraction != 0 { text += ".\(pad(fraction, 3))" }
        return text + "Z"
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let digits = String(abs(n))
        return (n < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
    static func civil(fromDays z: Int) -> (year: Int, month: Int, day: Int) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
