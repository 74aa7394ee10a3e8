/// One sample per line as a JSON object:
///
/// ```
/// {"ts": 1714557600, "metric": "disk_usage_percent", "labels": {"host": "a", "path": "/var"}, "value": 91.5}
/// {"ts": "2024-05-01T10:00:00.250+02:00", "metric": "up", "value": "NaN"}
/// ```
///
/// - `ts` (required): epoch seconds as a number, or text — RFC 3339 (`Z` or an offset, fractions
///   of a second), `YYYY-MM-DD HH:MM:SS` (UTC) or epoch seconds (`SeriesTimestamp`).
/// - `metric` (required): a Prometheus metric name.
/// - `labels` (optional, or null): an object of label name → text.
/// - `value` (required): a number, or text holding one or `NaN` / `+Inf` / `-Inf` (JSON has no
///   NaN, and the Prometheus HTTP API writes values as text).
/// - Other keys are ignored (any JSON value); a key given twice is an error.
///
/// Blank lines hold no sample. Nesting is limited to 64 levels, so no line can exhaust the stack.
public struct JSONLinesSampleParser: SampleLineParser {
    public init() {}

    public func parse(line: Substring, number: Int) -> Result<Sample?, InputError> {
        var reader = JSONReader(Array(line.utf8))
        reader.skipSpace()
        if reader.atEnd { return .success(nil) }
        do {
            return .success(try reader.sample())
        } catch let error as JSONReader.Failure {
            return .failure(InputError(line: number, reason: error.reason))
        } catch {
            return .failure(InputError(line: number, reason: "\(error)"))
        }
    }
}

/// A strict JSON reader over one line, just enough for a sample object.
struct JSONReader {
    struct Failure: Error {
        var reason: String
    }

    private let bytes: [UInt8]
    private var i = 0
    private static let maxDepth = 64

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    }

    private func fail(_ reason: String) -> Failure {
        Failure(reason: reason + " (at column \(i + 1))")
    }

    mutating func sample() throws -> Sample {
        guard bytes[i] == UInt8(ascii: "{") else {
            throw fail("expected a JSON object such as {\"ts\": 1714557600, \"metric\": \"up\", \"value\": 1}")
        }
        i += 1
        var time: Double?, metric: String?, labels: [String: String]?, value: Double?
        var seen: Set<String> = []
        try members { key, reader in
            guard seen.insert(key).inserted else { throw reader.fail("key \"\(key)\" appears twice") }
            switch key {
            case "ts": time = try reader.timestamp()
            case "metric":
                let start = reader.i
                guard let name = try reader.stringOrNull(), SampleText.isMetricName(name) else {
                    reader.i = start
                    throw reader.fail("\"metric\" must be a metric name such as \"disk_usage_percent\" (letters, digits, _ and :)")
                }
                metric = name
            case "labels": labels = try reader.labels()
            case "value": value = try reader.sampleValue()
            default: try reader.skipValue(depth: 1)
            }
        }
        skipSpace()
        guard atEnd else { throw fail("unexpected text after the object") }
        guard let time else { throw Failure(reason: "missing \"ts\" (epoch seconds or an RFC 3339 time)") }
        guard let metric else { throw Failure(reason: "missing \"metric\"") }
        guard let value else { throw Failure(reason: "missing \"value\"") }
        return Sample(metric: metric, labels: labels ?? [:], time: time, value: value)
    }

    /// Reads `"key": value` pairs up to the closing `}` (the `{` already read), calling `body`
    /// with the reader placed on each value.
    private mutating func members(_ body: (String, inout JSONReader) throws -> Void) throws {
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key in double quotes") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after key \"\(key)\"") }
            i += 1
            skipSpace()
            guard i < bytes.count else { throw fail("missing the value of \"\(key)\"") }
            try body(key, &self)
            skipSpace()
            guard i < bytes.count else { throw fail("the object is not closed: missing '}'") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            return
        }
    }

    private mutating func timestamp() throws -> Double {
        let start = i
        if bytes[i] == UInt8(ascii: "\"") {
            let text = try string()
            guard let t = SeriesTimestamp.parse(text) else {
                i = start
                throw fail("\"ts\" '\(SampleText.excerpt(text))' is not a time (RFC 3339 such as 2024-05-01T10:00:00Z, or epoch seconds)")
            }
            return t
        }
        guard let t = try number(), t.isFinite else {
            i = start
            throw fail("\"ts\" must be epoch seconds (a number) or an RFC 3339 time in quotes")
        }
        return t
    }

    private mutating func sampleValue() throws -> Double {
        let start = i
        if bytes[i] == UInt8(ascii: "\"") {
            let text = try string()
            guard let v = SampleText.value(text.trimmingASCIISpaces) else {
                i = start
                throw fail("\"value\" '\(SampleText.excerpt(text))' is not \(SampleText.valueHint)")
            }
            return v
        }
        if bytes[i...].starts(with: "NaN".utf8) || bytes[i...].starts(with: "Infinity".utf8) || bytes[i...].starts(with: "-Infinity".utf8) {
            throw fail("\"value\": JSON has no NaN or Infinity; write them as text: \"NaN\", \"+Inf\", \"-Inf\"")
        }
        guard let v = try number() else {
            i = start
            throw fail("\"value\" must be a number, or text such as \"NaN\"")
        }
        return v
    }

    private mutating func labels() throws -> [String: String]? {
        if try null() { return nil }
        guard bytes[i] == UInt8(ascii: "{") else { throw fail("\"labels\" must be an object of label name to text") }
        i += 1
        var labels: [String: String] = [:]
        try members { name, reader in
            guard SampleText.isLabelName(name) else {
                throw reader.fail("label name '\(SampleText.excerpt(name))' is not valid (letters, digits and _, not starting with a digit)")
            }
            guard labels[name] == nil else { throw reader.fail("label \"\(name)\" appears twice") }
            guard reader.bytes[reader.i] == UInt8(ascii: "\"") else {
                throw reader.fail("the value of label \"\(name)\" must be text in double quotes")
            }
            labels[name] = try reader.string()
        }
        return labels
    }

    private mutating func null() throws -> Bool {
        guard bytes[i...].starts(with: "null".utf8) else { return false }
        i += 4
        return true
    }

    private mutating func stringOrNull() throws -> String? {
        if try null() { return nil }
        guard bytes[i] == UInt8(ascii: "\"") else { return nil }
        return try string()
    }

    /// A JSON number per RFC 8259 (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`); nil when the
    /// text here is not one (the position is then unspecified).
    private mutating func number() throws -> Double? {
        let start = i
        func digits() -> Int {
            let from = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - from
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        let intDigits = digits()
        guard intDigits > 0, !(intDigits > 1 && bytes[intStart] == 0x30) else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return nil }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        return Double(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    /// A JSON string (the opening quote here), escapes decoded, surrogate pairs joined.
    private mutating func string() throws -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes[i...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                            throw fail("a \\u escape starts a surrogate pair that is not completed")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a \\u surrogate pair is not valid") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("a \\u escape is half a surrogate pair")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("a \\u escape is not a character") }
                    out.append(contentsOf: String(Character(u)).utf8)
                default:
                    i -= 2
                    throw fail("'\\\(Character(Unicode.Scalar(e)))' is not a JSON escape")
                }
            case 0x00..<0x20:
                throw fail("a control character inside a string must be escaped")
            default:
                out.append(b)
                i += 1
            }
        }
        i = open
        throw fail("a string is not closed: missing '\"'")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("a \\u escape needs four hexadecimal digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let digit: UInt8
            switch b {
            case 0x30...0x39: digit = b - 0x30
            case 0x41...0x46: digit = b - 0x41 + 10
            case 0x61...0x66: digit = b - 0x61 + 10
            default: throw fail("a \\u escape needs four hexadecimal digits")
            }
            value = value * 16 + UInt32(digit)
            i += 1
        }
        return value
    }

    /// Any JSON value, read and dropped (for keys a sample does not use).
    private mutating func skipValue(depth: Int) throws {
        guard depth <= Self.maxDepth else { throw fail("nested more than \(Self.maxDepth) levels deep") }
        guard i < bytes.count else { throw fail("missing a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"):
            i += 1
            try members { _, reader in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return
            }
            while true {
                skipSpace()
                try skipValue(depth: depth + 1)
                skipSpace()
                guard i < bytes.count else { throw fail("the list is not closed: missing ']'") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                i += 1
                return
            }
        default:
            for word in ["true", "false", "null"] where bytes[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return
            }
            guard try number() != nil else { throw fail("expected a JSON value") }
        }
    }
}

extension String {
    var trimmingASCIISpaces: Substring {
        let start = firstIndex { $0 != " " && $0 != "\t" } ?? endIndex
        let end = lastIndex { $0 != " " && $0 != "\t" }.map { index(after: $0) } ?? endIndex
        return start < end ? self[start..<end] : self[endIndex...]
    }
}
