/// What an unquoted value means: the YAML 1.2 core schema (YAML 1.2.2, section 10.3), the one
/// typing Medic applies wherever a value is typed (the loader's readers, parameter values,
/// `--param`). JSON numbers, `true`, `false` and `null` are unquoted values too and read the same.
///
/// | type | spellings |
/// |---|---|
/// | null | `null` `Null` `NULL` `~` and nothing |
/// | boolean | `true` `True` `TRUE` `false` `False` `FALSE` |
/// | integer | `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` |
/// | float | `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)` |
///
/// Everything else is text: `1_000`, `0b101`, `1:30`, `yes`, `0x1p3`, `infinity`.
public enum PlainScalar: Equatable, Sendable {
    case null
    case boolean(Bool)
    /// `value` is nil when the integer does not fit 64 bits.
    case integer(Int?)
    case float(Double)
    case text

    public static func resolve(_ text: String) -> PlainScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .boolean(true)
        case "false", "False", "FALSE": return .boolean(false)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || isDigit(first) else { return .text }
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "o") || bytes[1] == UInt8(ascii: "x") {
            let radix = bytes[1] == UInt8(ascii: "o") ? 8 : 16
            let digits = bytes[2...]
            let valid = digits.allSatisfy { radix == 8 ? (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) : isHexDigit($0) }
            guard valid else { return .text }
            return .integer(Int(String(decoding: digits, as: UTF8.self), radix: radix))
        }
        var i = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") { i = 1 }
        let rest = String(decoding: bytes[i...], as: UTF8.self)
        if rest == ".inf" || rest == ".Inf" || rest == ".INF" { return .float(negative ? -.infinity : .infinity) }
        guard let isInteger = decimalIsInteger(bytes, from: i) else { return .text }
        if isInteger {
            return .integer(Int(text))
        }
        // Swift's Double(String) wants a digit on each side of the point: `1.` and `.5` become `1.0` and `0.5`.
        var spelled = ""
        var previous: UInt8 = 0
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "."), !isDigit(previous) { spelled += "0" }
            spelled.unicodeScalars.append(Unicode.Scalar(byte))
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if byte == UInt8(ascii: "."), !isDigit(next) { spelled += "0" }
            previous = byte
        }
        return Double(spelled).map { .float($0) } ?? .text
    }

    /// nil unless `bytes[from...]` is `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`; then
    /// whether it is digits alone (an integer).
    private static func decimalIsInteger(_ bytes: [UInt8], from start: Int) -> Bool? {
        var i = start
        func digits() -> Int {
            let from = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            return i - from
        }
        let whole = digits()
        var fraction = 0
        var dot = false
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            dot = true
            i += 1
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return nil }
        var exponent = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            exponent = true
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == bytes.count else { return nil }
        return !dot && !exponent
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(b)
    }

    /// The value of an integer that fits 64 bits (a float such as `2.0` is not one).
    public var integerValue: Int? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text as a number: an integer or a float (possibly infinite or NaN).
    public var numberValue: Double? {
        switch self {
        case .integer(let value): value.map(Double.init)
        case .float(let value): value
        default: nil
        }
    }
}

/// RFC 8259's number grammar, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, and nothing
/// looser: `-01`, `1.`, `.5`, `+1`, `2.e3`, `-00` are not JSON numbers.
public enum JSONNumberGrammar {
    /// How many bytes of `bytes`, from `start`, form the longest prefix that is a JSON number, or
    /// nil when no JSON number starts there. The caller decides whether what follows may.
    public static func length<C: RandomAccessCollection>(of bytes: C, from start: C.Index) -> Int?
    where C.Element == UInt8 {
        var i = start
        func at(_ test: (UInt8) -> Bool) -> Bool { i < bytes.endIndex && test(bytes[i]) }
        func digits() -> Int {
            var count = 0
            while at(PlainScalar.isDigit) {
                i = bytes.index(after: i)
                count += 1
            }
            return count
        }
        if at({ $0 == UInt8(ascii: "-") }) { i = bytes.index(after: i) }
        if at({ $0 == UInt8(ascii: "0") }) {
            i = bytes.index(after: i)
        } else if digits() == 0 {
            return nil
        }
        if at({ $0 == UInt8(ascii: ".") }) {
            i = bytes.index(after: i)
            guard digits() > 0 else { return nil }
        }
        if at({ $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            i = bytes.index(after: i)
            if at({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }) { i = bytes.index(after: i) }
            guard digits() > 0 else { return nil }
        }
        return bytes.distance(from: start, to: i)
    }

    /// Whether the whole text is one JSON number.
    public static func matches(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return length(of: bytes, from: 0) == bytes.count
    }
}
