/// The Prometheus text exposition format (version 0.0.4), one line at a time:
///
/// ```
/// # HELP node_filesystem_avail_bytes Filesystem space available.
/// # TYPE node_filesystem_avail_bytes gauge
/// node_filesystem_avail_bytes{device="/dev/sda1",mountpoint="/"} 1.2e+10
/// http_requests_total{method="post",code="200"} 1027 1395066363000
/// msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
/// ```
///
/// - Blank lines and `#` comments hold no sample; `# HELP name text` and `# TYPE name type` must
///   name a metric, and the type must be `counter`, `gauge`, `histogram`, `summary` or
///   `untyped` (OpenMetrics' `unknown`, `info`, `stateset`, `gaugehistogram` too).
/// - A sample is `name{label="value",...} value [timestamp]`: the label set is optional and may
///   end with a comma; label values escape `\\`, `\"` and `\n` (any other escape is an error); the
///   metric name may also be written quoted inside the braces (`{"my.metric",job="x"}`, the
///   UTF-8 form of Prometheus 3). The value is a number, `NaN`, `+Inf` or `-Inf`; the timestamp,
///   when present, is an integer of milliseconds since the epoch. Histogram and summary series
///   (`_bucket`, `_sum`, `_count`, `quantile`) are samples like any other.
/// - A sample without a timestamp takes `defaultTime` (the time of the scrape); with no
///   `defaultTime` it is an error.
/// - Text after the timestamp starting with `#` (an OpenMetrics exemplar) is ignored.
public struct PrometheusTextParser: SampleLineParser {
    /// The time, in epoch seconds, of samples written without a timestamp.
    public var defaultTime: Double?

    public init(defaultTime: Double? = nil) {
        self.defaultTime = defaultTime
    }

    static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset", "gaugehistogram"]

    public func parse(line: Substring, number: Int) -> Result<Sample?, InputError> {
        var scanner = ExpositionScanner(Array(line.utf8))
        scanner.skipBlanks()
        if scanner.atEnd { return .success(nil) }
        do {
            if scanner.peek == UInt8(ascii: "#") {
                try scanner.comment()
                return .success(nil)
            }
            let parsed = try scanner.sample()
            guard let time = parsed.time ?? defaultTime else {
                throw ExpositionScanner.Failure(reason: "the sample has no timestamp, and no scrape time was given for it")
            }
            return .success(Sample(metric: parsed.metric, labels: parsed.labels, time: time, value: parsed.value))
        } catch let error as ExpositionScanner.Failure {
            return .failure(InputError(line: number, reason: error.reason))
        } catch {
            return .failure(InputError(line: number, reason: "\(error)"))
        }
    }
}

/// The tokens of one exposition line.
struct ExpositionScanner {
    struct Failure: Error {
        var reason: String
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    private func fail(_ reason: String) -> Failure {
        Failure(reason: reason + " (at column \(i + 1))")
    }

    mutating func skipBlanks() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
    }

    /// `# HELP name text`, `# TYPE name type`, or any other comment.
    mutating func comment() throws {
        i += 1
        skipBlanks()
        let keyword = word()
        guard keyword == "HELP" || keyword == "TYPE" else { return }
        guard peek == 0x20 || peek == 0x09 else {
            if atEnd { throw fail("# \(keyword) must name a metric") }
            return  // `# HELPER ...` is an ordinary comment
        }
        skipBlanks()
        let name = word()
        guard SampleText.isMetricName(name) else {
            throw fail("# \(keyword) must name a metric, found '\(SampleText.excerpt(name))'")
        }
        guard keyword == "TYPE" else { return }
        skipBlanks()
        let type = word()
        skipBlanks()
        guard PrometheusTextParser.types.contains(type), atEnd else {
            throw fail("# TYPE \(name): '\(SampleText.excerpt(type))' is not a metric type (counter, gauge, histogram, summary, untyped)")
        }
    }

    /// Bytes up to the next blank.
    private mutating func word() -> String {
        let start = i
        while i < bytes.count, bytes[i] != 0x20, bytes[i] != 0x09 { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func identifier() -> String {
        let start = i
        while i < bytes.count, Self.isNameByte(bytes[i], first: i == start) { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private static func isNameByte(_ b: UInt8, first: Bool) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x3A || (!first && b >= 0x30 && b <= 0x39)
    }

    mutating func sample() throws -> (metric: String, labels: [String: String], time: Double?, value: Double) {
        var metric: String?
        if peek != UInt8(ascii: "{") {
            let name = identifier()
            guard !name.isEmpty else {
                throw fail("expected a metric name, a comment or a blank line; a sample looks like name{label=\"value\"} 1")
            }
            metric = name
            let afterName = i
            skipBlanks()
            if peek != UInt8(ascii: "{") { i = afterName }
        }
        var labels: [String: String] = [:]
        if peek == UInt8(ascii: "{") {
            i += 1
            try labelSet(metric: &metric, labels: &labels)
        }
        guard let metric else { throw fail("the sample has no metric name") }
        guard peek == 0x20 || peek == 0x09 else {
            if atEnd { throw fail("missing the value after '\(SampleText.excerpt(metric))'") }
            throw fail("unexpected '\(Character(Unicode.Scalar(bytes[i])))' in the metric name")
        }
        skipBlanks()
        let valueText = word()
        guard let value = SampleText.value(valueText) else {
            throw fail("'\(SampleText.excerpt(valueText))' is not \(SampleText.valueHint)")
        }
        skipBlanks()
        var time: Double?
        if !atEnd, peek != UInt8(ascii: "#") {
            let stamp = word()
            guard let ms = Int64(stamp) else {
                throw fail("'\(SampleText.excerpt(stamp))' is not a timestamp (an integer of milliseconds since the epoch)")
            }
            time = Double(ms) / 1000
            skipBlanks()
        }
        guard atEnd || peek == UInt8(ascii: "#") else {
            throw fail("unexpected text after the sample")
        }
        return (metric, labels, time, value)
    }

    /// `label="value", ...}` (the `{` already read); a quoted entry without `=` is the metric name.
    private mutating func labelSet(metric: inout String?, labels: inout [String: String]) throws {
        while true {
            skipBlanks()
            guard !atEnd else { throw fail("the label set is not closed: missing '}'") }
            if peek == UInt8(ascii: "}") {
                i += 1
                return
            }
            let name: String
            if peek == UInt8(ascii: "\"") {
                name = try quoted()
                skipBlanks()
                if peek != UInt8(ascii: "=") {
                    guard metric == nil else { throw fail("the metric is named twice") }
                    guard !name.isEmpty else { throw fail("the metric name is empty") }
                    metric = name
                    try separator()
                    continue
                }
            } else {
                name = identifier()
                guard !name.isEmpty, !name.contains(":") else {
                    throw fail("expected a label name (letters, digits and _)")
                }
                skipBlanks()
            }
            guard peek == UInt8(ascii: "=") else { throw fail("expected '=' after label '\(SampleText.excerpt(name))'") }
            i += 1
            skipBlanks()
            guard peek == UInt8(ascii: "\"") else { throw fail("the value of label '\(SampleText.excerpt(name))' must be in double quotes") }
            let value = try quoted()
            guard labels[name] == nil else { throw fail("label '\(name)' appears twice") }
            labels[name] = value
            try separator()
        }
    }

    /// After a label: `,` (then more, or the closing brace) or `}` (left for the caller's loop).
    private mutating func separator() throws {
        skipBlanks()
        if peek == UInt8(ascii: ",") {
            i += 1
        } else if peek != UInt8(ascii: "}") {
            throw fail(atEnd ? "the label set is not closed: missing '}'" : "expected ',' or '}' in the label set")
        }
    }

    /// A double-quoted string with the exposition format's escapes: `\\`, `\"`, `\n`.
    private mutating func quoted() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { break }
                switch bytes[i + 1] {
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "n"): out.append(0x0A)
                default:
                    throw fail("'\\\(Character(Unicode.Scalar(bytes[i + 1])))' is not an escape of the text format (\\\\, \\\" and \\n are)")
                }
                i += 2
                continue
            }
            out.append(b)
            i += 1
        }
        throw fail("a quoted value is not closed: missing '\"'")
    }
}
