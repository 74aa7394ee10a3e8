// MARK: - Reading

extension Timestamp {
    /// What `Timestamp(rfc3339:)` accepts beyond RFC 3339's `date-time`.
    public struct Leniency: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// A space between the date and the time (`2015-01-01 00:00:00`, NAB's spelling).
        public static let spaceSeparator = Leniency(rawValue: 1 << 0)
        /// A date alone, read as its midnight (UTC).
        public static let dateAlone = Leniency(rawValue: 1 << 1)
        /// No offset, read as UTC.
        public static let missingOffset = Leniency(rawValue: 1 << 2)
        /// An offset without its colon (`+0200`).
        public static let offsetWithoutColon = Leniency(rawValue: 1 << 3)

        /// What metric series files write.
        public static let series: Leniency = [.spaceSeparator, .dateAlone, .missingOffset, .offsetWithoutColon]
    }

    /// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `t` and `z` accepted in
    /// lower case, a fraction of any length (kept to the nanosecond, further digits cut), second
    /// 60 (a leap second, read as the next second's start); plus what `leniency` allows. nil for
    /// anything else, and for a date or time that cannot be (month 13, February 29 of a year that
    /// is not a leap year, hour 24, an offset of 24 hours), with no surrounding space.
    public init?(rfc3339 text: String, leniency: Leniency = []) {
        var text = text
        guard let parsed = text.withUTF8({ Timestamp(rfc3339: $0, leniency: leniency) }) else { return nil }
        self = parsed
    }

    /// The value of `count` decimal digits at `at`, or -1 when they are not all digits (the
    /// caller has checked that they are inside `b`).
    @inline(__always)
    private static func digits(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int) -> Int {
        var value = 0
        for k in at..<(at + count) {
            let digit = b[k] &- 0x30
            guard digit < 10 else { return -1 }
            value = value &* 10 &+ Int(digit)
        }
        return value
    }

    public init?(rfc3339 b: UnsafeBufferPointer<UInt8>, leniency: Leniency = []) {
        // YYYY-MM-DD at fixed places.
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        let year = Self.digits(b, 0, 4), month = Self.digits(b, 5, 2), day = Self.digits(b, 8, 2)
        guard year >= 0, (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        let midnight = Int64(Self.days(year: year, month: month, day: day)) * 86_400
        if b.count == 10 {
            guard leniency.contains(.dateAlone) else { return nil }
            self.init(seconds: midnight)
            return
        }
        // [Tt ]HH:MM:SS at fixed places.
        let separator = b[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
                || (separator == UInt8(ascii: " ") && leniency.contains(.spaceSeparator)),
              b.count >= 19, b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
        let hour = Self.digits(b, 11, 2), minute = Self.digits(b, 14, 2), second = Self.digits(b, 17, 2)
        guard (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second) else { return nil }
        var i = 19
        var nanoseconds: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100_000_000
            let start = i
            while i < b.count, b[i] &- 0x30 < 10 {
                nanoseconds += Int64(b[i] &- 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset = 0
        if i == b.count {
            guard leniency.contains(.missingOffset) else { return nil }
        } else if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else {
            // ±HH:MM (±HHMM when allowed).
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") else { return nil }
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            let colon = b.count - i == 6 && b[i + 3] == UInt8(ascii: ":")
            guard colon || (b.count - i == 5 && leniency.contains(.offsetWithoutColon)) else { return nil }
            let hours = Self.digits(b, i + 1, 2), minutes = Self.digits(b, colon ? i + 4 : i + 3, 2)
            guard (0..<24).contains(hours), (0..<60).contains(minutes) else { return nil }
            // 12:00+02:00 is 10:00 UTC.
            offset = sign * (hours * 3600 + minutes * 60)
            i = b.count
        }
        guard i == b.count else { return nil }
        self.init(seconds: midnight + Int64(hour * 3600 + minute * 60 + second - offset), nanoseconds: nanoseconds)
    }
}
