import Foundation

/// A point in time as Medic reads and writes it: RFC 3339 text (journals, incident records,
/// reports, metric series), epoch seconds, or a `Date`. Pure arithmetic on the proleptic
/// Gregorian calendar in UTC: no locale, no time zone database, no formatter objects.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Whole seconds since 1970-01-01T00:00:00Z, rounded down (so a time before 1970 with a
    /// fraction has `seconds` one below its integer part and a positive `nanoseconds`).
    public let seconds: Int64
    /// Nanoseconds into `seconds`, in 0..<1_000_000_000.
    public let nanoseconds: Int32

    /// `seconds` plus `nanoseconds`, carried into range (any `nanoseconds`, negative too).
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        let (carry, rest) = nanoseconds.floorDivided(by: 1_000_000_000)
        self.seconds = seconds + carry
        self.nanoseconds = Int32(rest)
    }

    public init(milliseconds: Int64) {
        let (whole, millis) = milliseconds.floorDivided(by: 1000)
        self.init(seconds: whole, nanoseconds: millis * 1_000_000)
    }

    /// The times a `Timestamp` holds: less than 10^14 seconds (about three million years) from
    /// 1970, so that milliseconds and days never overflow.
    static let representableSeconds: Range<Double> = -1e14..<1e14

    /// Epoch seconds rounded to a millisecond by `rule` (`(seconds * 1000).rounded(rule)`);
    /// nil for a value that is not finite or not in `representableSeconds`.
    public init?(secondsSince1970 value: Double, roundedToMilliseconds rule: FloatingPointRoundingRule) {
        guard value.isFinite, Self.representableSeconds.contains(value), value > -1e14 else { return nil }
        self.init(milliseconds: Int64((value * 1000).rounded(rule)))
    }

    /// `date` as Foundation's calendar splits it (whole seconds since 2001 rounded down, the
    /// rest truncated to nanoseconds), so that text written from it is the text
    /// `Date.ISO8601FormatStyle` wrote for it; nil for a date outside `representableSeconds`.
    public init?(_ date: Date) {
        let interval = date.timeIntervalSinceReferenceDate
        guard interval.isFinite, Self.representableSeconds.contains(interval) else { return nil }
        let whole = interval.rounded(.down)
        self.init(seconds: Int64(whole) + Self.referenceDateOffset, nanoseconds: Int64((interval - whole) * 1_000_000_000))
    }

    /// Seconds from 1970-01-01 to 2001-01-01, Foundation's reference date.
    static let referenceDateOffset: Int64 = 978_307_200

    /// Epoch seconds as a Double (the nanoseconds to the Double's precision). Before 1970 the
    /// whole part and the fraction are both taken toward zero, so that -0.15 s is the Double
    /// nearest -0.15 (not -1 + 0.85, which is not).
    public var secondsSince1970: Double {
        guard seconds < 0, nanoseconds > 0 else { return Double(seconds) + Double(nanoseconds) / 1_000_000_000 }
        return -(Double(-(seconds + 1)) + Double(1_000_000_000 - nanoseconds) / 1_000_000_000)
    }

    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }

    /// Seconds since the UTC midnight that began its day, 0..<86,400.
    public var secondOfDay: Int { Int(seconds.floorDivided(by: 86_400).remainder) }

    /// Milliseconds since 1970, rounded down.
    public var millisecondsSince1970: Int64 { seconds * 1000 + Int64(nanoseconds / 1_000_000) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
}

// MARK: - The calendar

extension Timestamp {
    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (`civil_from_days`).
    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

// MARK: - Writing

extension Timestamp {
    /// How many digits of the second's fraction `rfc3339` writes.
    public enum Fraction: Sendable {
        /// Always three: `2026-11-23T10:15:00.000Z` (the journal's spelling).
        case milliseconds
        /// Three when the milliseconds are not zero, else none: `2026-11-23T10:15:00Z`.
        case millisecondsUnlessZero
    }

    /// RFC 3339 in UTC, the fraction cut (not rounded) to milliseconds. The year has four
    /// digits, more when it needs them, and a `-` before it when it is before year 0.
    public func rfc3339(_ fraction: Fraction = .milliseconds) -> String {
        let (days, secondOfDay) = seconds.floorDivided(by: 86_400)
        let (year, month, day) = Self.civil(days: Int(days))
        let millis = Int(nanoseconds / 1_000_000)
        // "-3170843-12-31T23:59:59.999Z" is 28 bytes.
        return String(unsafeUninitializedCapacity: 32) { out in
            var n = 0
            func put(_ byte: UInt8) {
                out[n] = byte
                n += 1
            }
            func put(_ value: Int, width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                while divisor * 10 <= value { divisor *= 10 }
                while divisor > 0 {
                    put(UInt8(truncatingIfNeeded: 0x30 + value / divisor % 10))
                    divisor /= 10
                }
            }
            if year < 0 { put(UInt8(ascii: "-")) }
            put(abs(year), width: 4)
            put(UInt8(ascii: "-"))
            put(month, width: 2)
            put(UInt8(ascii: "-"))
            put(day, width: 2)
            put(UInt8(ascii: "T"))
            put(Int(secondOfDay / 3600), width: 2)
            put(UInt8(ascii: ":"))
            put(Int(secondOfDay / 60 % 60), width: 2)
            put(UInt8(ascii: ":"))
            put(Int(secondOfDay % 60), width: 2)
            if fraction == .milliseconds || millis != 0 {
                put(UInt8(ascii: "."))
                put(millis, width: 3)
            }
            put(UInt8(ascii: "Z"))
            return n
        }
    }
}

extension FixedWidthInteger {
    /// Quotient rounded down and a remainder in 0..<divisor (for times before 1970 too).
    func floorDivided(by divisor: Self) -> (quotient: Self, remainder: Self) {
        let q = self / divisor, r = self % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}
