/// Timestamps as metric series files write them, read as epoch seconds (UTC):
/// - NAB's `YYYY-MM-DD HH:MM:SS` (UTC), optionally with fractional seconds;
/// - RFC 3339, `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` (a missing offset is read as UTC);
/// - epoch seconds, `1420070400` or `1420070400.5`.
/// Pure text work (no Foundation, no locale, no time zone database).
public enum SeriesTimestamp {
    /// Epoch seconds, or nil when `text` is none of the forms above or names an impossible
    /// date or time (month 13, February 30, hour 24).
    public static func parse<S: StringProtocol>(_ text: S) -> Double? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        guard !bytes.isEmpty else { return nil }
        if bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") {
            return calendar(bytes)
        }
        // Epoch seconds: digits, an optional sign, fraction and exponent; never nan or inf.
        let allowed = Set("0123456789+-.eE".utf8)
        guard bytes.allSatisfy(allowed.contains), let value = Double(String(decoding: bytes, as: UTF8.self)),
              value.isFinite else { return nil }
        return value
    }

    private static func calendar(_ b: [UInt8]) -> Double? {
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let c = b[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                value = value * 10 + Int(c - 0x30)
                i += 1
            }
            return value
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86400
        guard i < b.count else { return seconds }  // a date alone is its midnight
        guard expect(" Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2),
              hour < 24, minute < 60, second <= 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60 + second)
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1, fraction = 0.0, any = false
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
                any = true
            }
            guard any else { return nil }
            seconds += fraction
        }
        guard i < b.count else { return seconds }
        if expect("Zz") { return i == b.count ? seconds : nil }
        guard i < b.count else { return nil }
        let sign: Double = b[i] == UInt8(ascii: "-") ? -1 : 1
        guard expect("+-"), let offsetHours = digits(2) else { return nil }
        _ = expect(":")
        guard let offsetMinutes = digits(2), i == b.count, offsetHours < 24, offsetMinutes < 60 else { return nil }
        // 12:00+02:00 is 10:00 UTC.
        return seconds - sign * Double(offsetHours * 3600 + offsetMinutes * 60)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
