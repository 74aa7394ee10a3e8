/// A number as it is written: its digits (the first 19 significant ones), its decimal
/// exponent, and where it is in the text.
@frozen
public struct JSONNumber: Sendable, Equatable {
    public var start: Int, end: Int
    public var negative: Bool
    /// The first 19 significant digits as an integer.
    public var mantissa: UInt64
    /// The value is `mantissa` × 10^`exponent` (when `exact`).
    public var exponent: Int
    /// Significant digits in the integer part and the fraction.
    public var digits: Int
    /// No digit was dropped and the exponent was read whole.
    public var exact: Bool
    /// It has a `.` or an exponent (so it is not written as an integer).
    public var hasFractionOrExponent: Bool

    @inlinable
    public init(start: Int, end: Int, negative: Bool, mantissa: UInt64, exponent: Int, digits: Int, exact: Bool,
                hasFractionOrExponent: Bool) {
        self.start = start
        self.end = end
        self.negative = negative
        self.mantissa = mantissa
        self.exponent = exponent
        self.digits = digits
        self.exact = exact
        self.hasFractionOrExponent = hasFractionOrExponent
    }
}

extension JSONCursor {
    /// Reads a number, RFC 8259's `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` and nothing
    /// looser (`+1`, `01`, `.5`, `1.` are not JSON). It moves only when it succeeds: the scan runs
    /// on locals, so that its position and digits stay in registers.
    @inlinable
    public mutating func scanNumber() throws(JSONTextError) -> JSONNumber {
        let bytes = self.bytes, count = bytes.count
        let start = offset
        var at = start, negative = false
        var mantissa: UInt64 = 0, exponent = 0, digits = 0, hasFractionOrExponent = false
        if at < count, bytes[at] == UInt8(ascii: "-") { negative = true; at &+= 1 }
        guard at < count, bytes[at] &- 0x30 < 10 else {
            guard at == start else { throw error(.invalidNumber, at: at) }
            throw at < count ? error(.unexpectedByte(bytes[at]), at: at) : error(.unexpectedEnd, at: at)
        }
        if bytes[at] == 0x30 {
            at &+= 1
            if at < count, bytes[at] &- 0x30 < 10 { throw error(.invalidNumber, at: at) }
        } else {
            while at < count, bytes[at] &- 0x30 < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[at] &- 0x30)
                } else {
                    exponent += 1
                }
                digits += 1
                at &+= 1
            }
        }
        if at < count, bytes[at] == UInt8(ascii: ".") {
            hasFractionOrExponent = true
            at &+= 1
            guard at < count, bytes[at] &- 0x30 < 10 else { throw error(.invalidNumber, at: at) }
            while at < count, bytes[at] &- 0x30 < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[at] &- 0x30)
                    exponent -= 1
                }
                // Leading zeros of a fraction (0.001) are not significant.
                if mantissa != 0 { digits += 1 }
                at &+= 1
            }
        }
        var exact = digits <= 19
        if at < count, bytes[at] | 0x20 == UInt8(ascii: "e") {
            hasFractionOrExponent = true
            at &+= 1
            var negativeExponent = false
            if at < count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") {
                negativeExponent = bytes[at] == UInt8(ascii: "-")
                at &+= 1
            }
            guard at < count, bytes[at] &- 0x30 < 10 else { throw error(.invalidNumber, at: at) }
            var e = 0
            while at < count, bytes[at] &- 0x30 < 10 {
                if e < 100_000 { e = e * 10 + Int(bytes[at] &- 0x30) } else { exact = false }
                at &+= 1
            }
            exponent += negativeExponent ? -e : e
        }
        offset = at
        return JSONNumber(start: start, end: at, negative: negative, mantissa: mantissa, exponent: exponent, digits: digits,
                          exact: exact, hasFractionOrExponent: hasFractionOrExponent)
    }

    /// Reads a number as the nearest Double, as `Double(String)` reads its text (both are
    /// correctly rounded): exactly when its digits fit 2^53 and its decimal exponent is within
    /// ±22 (Clinger's fast path), else by `Double(String)` itself. A number too large for a
    /// Double is an infinity: the caller decides whether that is an error.
    @inlinable
    public mutating func readNumber() throws(JSONTextError) -> Double {
        let number = try scanNumber()
        return value(of: number)
    }

    @inlinable
    public func value(of number: JSONNumber) -> Double {
        if number.exact, number.mantissa <= 1 << 53, abs(number.exponent) <= 22 {
            let mantissa = Double(number.mantissa)
            let magnitude = number.exponent >= 0 ? mantissa * Self.powerOfTen(number.exponent)
                : mantissa / Self.powerOfTen(-number.exponent)
            return number.negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[number.start..<number.end]), as: UTF8.self)
        return Double(text) ?? (number.negative ? -.infinity : .infinity)
    }

    /// 10^exponent for 0...22, every one exact in a Double. A switch rather than a table: a
    /// static array read from another module goes through its lazy initializer each time.
    @inlinable
    static func powerOfTen(_ exponent: Int) -> Double {
        switch exponent {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }
}
