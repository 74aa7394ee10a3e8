import MedicText

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
        Array(line.utf8).withUnsafeBufferPointer { bytes in
            var reader = JSONReader(bytes)
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
}

/// A strict JSON reader over one line, just enough for a sample object, on `JSONCursor`: the
/// cursor reads, this says what a sample needs and words each error with its column.
struct JSONReader {
    struct Failure: Error {
        var reason: String
    }

    private var cursor: JSONCursor
    private static let maxDepth = 64

    init(_ bytes: UnsafeBufferPointer<UInt8>) { cursor = JSONCursor(bytes) }

    private var bytes: UnsafeBufferPointer<UInt8> { cursor.bytes }

    private var i: Int {
        get { cursor.offset }
        set { cursor.offset = newValue }
    }

    var atEnd: Bool { cursor.atEnd }

    mutating func skipSpace() { cursor.skipWhitespace() }

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
        cursor.take(literal: "null")
    }

    private mutating func stringOrNull() throws -> String? {
        if try null() { return nil }
        guard bytes[i] == UInt8(ascii: "\"") else { return nil }
        return try string()
    }

    /// A JSON number per RFC 8259 (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), infinite
    /// when too large for a Double; nil when the text here is not one (the position is then
    /// where the number stopped being one).
    private mutating func number() throws -> Double? {
        do throws(JSONTextError) {
            return try cursor.readNumber()
        } catch {
            i = error.offset
            // A leading zero: past the digits after it, as "01" reads as one bad number.
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return nil
        }
    }

    /// A JSON string (the opening quote here), escapes decoded, surrogate pairs joined.
    private mutating func string() throws -> String {
        do throws(JSONTextError) {
            return try cursor.readString()
        } catch {
            i = error.offset
            switch error.kind {
            case .unterminatedString: throw fail("a string is not closed: missing '\"'")
            case .controlCharacterInString: throw fail("a control character inside a string must be escaped")
            case .invalidEscape: throw fail("'\\\(Character(Unicode.Scalar(bytes[i + 1])))' is not a JSON escape")
            case .invalidUnicodeEscape: throw fail("a \\u escape needs four hexadecimal digits")
            case .unpairedHighSurrogate: throw fail("a \\u escape starts a surrogate pair that is not completed")
            case .invalidLowSurrogate: throw fail("a \\u surrogate pair is not valid")
            case .loneLowSurrogate: throw fail("a \\u escape is half a surrogate pair")
            default: throw fail("a string is not valid UTF-8")
            }
        }
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
            if cursor.take(UInt8(ascii: "]")) { return }
            while true {
                skipSpace()
                try skipValue(depth: depth + 1)
                skipSpace()
                guard i < bytes.count else { throw fail("the list is not closed: missing ']'") }
                if cursor.take(UInt8(ascii: ",")) { continue }
                guard cursor.take(UInt8(ascii: "]")) else { throw fail("expected ',' or ']'") }
                return
            }
        default:
            for word: StaticString in ["true", "false", "null"] where cursor.take(literal: word) { return }
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
