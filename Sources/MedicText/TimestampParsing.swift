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
    public init?(rfc3339 text: some StringProtocol, leniency: Leniency = []) {
        var text = String(text)
        guard let parsed = text.withUTF8({ Timestamp(rfc3339: $0, leniency: leniency) }) else { return nil }
        self = parsed
    }

    public init?(rfc3339 b: UnsafeBufferPointer<UInt8>, leniency: Leniency = []) {
        var i = 0
        func digits(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let digit = b[i] &- 0x30
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
                i += 1
            }
            return value
        }
        func take(_ byte: UInt8) -> Bool {
            guard i < b.count, b[i] == byte else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), take(UInt8(ascii: "-")), let month = digits(2), take(UInt8(ascii: "-")),
              let day = digits(2), (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        let midnight = Int64(Self.days(year: year, month: month, day: day)) * 86_400
        if i == b.count {
            guard leniency.contains(.dateAlone) else { return nil }
            self.init(seconds: midnight)
            return
        }
        guard take(UInt8(ascii: "T")) || take(UInt8(ascii: "t")) || (leniency.contains(.spaceSeparator) && take(UInt8(ascii: " "))),
              let hour = digits(2), take(UInt8(ascii: ":")), let minute = digits(2), take(UInt8(ascii: ":")),
              let second = digits(2), hour < 24, minute < 60, second <= 60 else { return nil }
        var nanoseconds: Int64 = 0
        if take(UInt8(ascii: ".")) {
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
        } else if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) {
            // UTC
        } else {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            guard take(UInt8(ascii: "+")) || take(UInt8(ascii: "-")), let hours = digits(2),
                  take(UInt8(ascii: ":")) || leniency.contains(.offsetWithoutColon), let minutes = digits(2),
                  hours < 24, minutes < 60 else { return nil }
            // 12:00+02:00 is 10:00 UTC.
            offset = sign * (hours * 3600 + minutes * 60)
        }
        guard i == b.count else { return nil }
        self.init(seconds: midnight + Int64(hour * 3600 + minute * 60 + second - offset), nanoseconds: nanoseconds)
    }
}
