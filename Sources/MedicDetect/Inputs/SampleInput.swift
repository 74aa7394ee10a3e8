import MedicModel

/// A line of metric data that could not be read: its 1-based line number and why.
public struct InputError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    /// `line 12: reason`; callers that know the file print `FILE:12: reason`.
    public var description: String { "line \(line): \(reason)" }
}

/// Reads samples from one line of text at a time: the inputs of the rule engine (JSON lines,
/// CSV, Prometheus text exposition). Pure parsing: the caller reads the lines (a file, stdin, a
/// scrape body) and decides what to do with a line that cannot be read — skip it and count it
/// (a backtest), or stop.
///
/// `parse` returns `.success(nil)` for a line that holds no sample (blank, a comment, a CSV
/// header), `.success(sample)` for a sample (NaN and ±Inf values included: the rule engine
/// ignores them, by the detectors' rules), and `.failure` with the line's number and the reason
/// otherwise. `number` is the line's 1-based number, used only in errors (and, for CSV, to
/// remember where the header was).
public protocol SampleLineParser: Sendable {
    mutating func parse(line: Substring, number: Int) -> Result<Sample?, InputError>
}

extension SampleLineParser {
    public mutating func parse(line: String, number: Int) -> Result<Sample?, InputError> {
        parse(line: line[...], number: number)
    }

    /// Every line of `bytes` (LF or CRLF line ends), numbered from `firstLine`. For bodies
    /// already in memory, such as one Prometheus scrape. A line that is not valid UTF-8 is an
    /// error, not read with U+FFFD in place of its bytes (that would alter a label value).
    public mutating func parseAll(_ bytes: [UInt8], firstLine: Int = 1) -> SampleBatch {
        var batch = SampleBatch()
        var number = firstLine
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = bytes[start..<lineEnd]
            if let bad = Self.firstInvalidUTF8(line) {
                batch.errors.append(InputError(line: number, reason: "the line is not valid UTF-8 (at byte \(bad + 1))"))
                number += 1
                start = end + 1
                continue
            }
            switch parse(line: String(decoding: line, as: UTF8.self), number: number) {
            case .success(let sample?): batch.samples.append(sample)
            case .success(nil): break
            case .failure(let error): batch.errors.append(error)
            }
            number += 1
            start = end + 1
        }
        return batch
    }
}

extension SampleLineParser {
    /// The offset of the first byte of `bytes` that is not part of valid UTF-8; nil when all are.
    static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
        UTF8Validation.firstInvalidByte(in: bytes)
    }
}

/// The samples of a body read at once, and the lines that could not be read.
public struct SampleBatch: Sendable, Hashable {
    public var samples: [Sample] = []
    public var errors: [InputError] = []

    public init(samples: [Sample] = [], errors: [InputError] = []) {
        self.samples = samples
        self.errors = errors
    }
}

/// The text formats samples come in.
public enum SampleFormat: String, Sendable, Hashable, CaseIterable {
    /// `{"ts": ..., "metric": ..., "labels": {...}, "value": ...}` per line.
    case jsonLines = "jsonl"
    /// A header line (`timestamp,metric,value[,labels]` or `timestamp,value`), then rows.
    case csv
    /// Prometheus text exposition format (0.0.4).
    case prometheus

    /// From a format name as a user writes it: `jsonl` (`json`, `ndjson`), `csv`, `prometheus` (`prom`).
    public init?(name: String) {
        switch name.lowercased() {
        case "jsonl", "json", "ndjson", "jsonlines", "json-lines": self = .jsonLines
        case "csv": self = .csv
        case "prometheus", "prom", "openmetrics": self = .prometheus
        default: return nil
        }
    }

    /// From a file name's extension: `.jsonl` `.ndjson` `.json`, `.csv`, `.prom`; nil otherwise.
    public init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        switch path[path.index(after: dot)...].lowercased() {
        case "jsonl", "ndjson", "json": self = .jsonLines
        case "csv": self = .csv
        case "prom": self = .prometheus
        default: return nil
        }
    }

    /// A guess from the first line that is not blank: `{` starts JSON lines, `#` Prometheus text,
    /// anything else is taken for a CSV header.
    public init(firstLine: Substring) {
        let trimmed = firstLine.drop { $0 == " " || $0 == "\t" }
        if trimmed.hasPrefix("{") {
            self = .jsonLines
        } else if trimmed.hasPrefix("#") {
            self = .prometheus
        } else {
            self = .csv
        }
    }

    /// A parser for this format. `metric`: the metric of a CSV without a `metric` column (NAB's
    /// `timestamp,value`); `defaultTime`: the time of Prometheus samples written without one (the
    /// scrape's time).
    public func parser(metric: String? = nil, defaultTime: Double? = nil) -> any SampleLineParser {
        switch self {
        case .jsonLines: JSONLinesSampleParser()
        case .csv: CSVSampleParser(metric: metric)
        case .prometheus: PrometheusTextParser(defaultTime: defaultTime)
        }
    }
}
