/// Samples as CSV rows under a header line that names the columns, in any order:
///
/// ```
/// timestamp,metric,value,labels
/// 2024-05-01T10:00:00Z,disk_usage_percent,91.5,host=a;path=/var
/// 1714557660,disk_usage_percent,92,"host=a;path=/var"
/// ```
///
/// - `timestamp` (required): RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or epoch seconds.
/// - `metric`: a Prometheus metric name. Without this column (NAB's `timestamp,value`) every row
///   is a sample of the metric given to `init(metric:)`.
/// - `value` (required): a number, `NaN`, `+Inf` or `-Inf`.
/// - `labels` (optional): `name=value` pairs joined by `;` (a value runs to the next `;` and may
///   hold `=`; it cannot hold `;`). Empty: no labels.
///
/// Fields may be double-quoted (RFC 4180: `""` is a quote inside), so a value may hold a comma;
/// a quoted field cannot span lines. Spaces around fields are trimmed. The header is the first
/// line that is not blank; until a header has been read, every row is an error.
public struct CSVSampleParser: SampleLineParser {
    /// Where each column is, once the header has been read.
    public struct Columns: Sendable, Hashable {
        public var timestamp: Int
        public var metric: Int?
        public var value: Int
        public var labels: Int?
        public var count: Int
        /// The header's line number.
        public var line: Int
    }

    public let metric: String?
    /// Nil until a header has been read (or when it could not be).
    public private(set) var columns: Columns?
    private var headerFailure: InputError?

    /// `metric`: the metric name of rows in a file without a `metric` column.
    public init(metric: String? = nil) {
        self.metric = metric
    }

    public mutating func parse(line: Substring, number: Int) -> Result<Sample?, InputError> {
        if line.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .success(nil) }
        let fields: [Substring]
        switch Self.fields(line) {
        case .success(let f): fields = f
        case .failure(let refusal): return .failure(InputError(line: number, reason: refusal.reason))
        }
        guard let columns else {
            if let headerFailure {
                return .failure(InputError(line: number, reason: "no row can be read: the header on line \(headerFailure.line) could not be"))
            }
            return header(fields, number: number)
        }
        guard fields.count == columns.count else {
            return .failure(InputError(line: number, reason: "expected \(columns.count) fields, as in the header on line \(columns.line); found \(fields.count)"))
        }
        let stamp = fields[columns.timestamp]
        guard let time = SeriesTimestamp.parse(stamp) else {
            return .failure(InputError(line: number, reason: "'\(SampleText.excerpt(stamp))' is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or epoch seconds)"))
        }
        let name = columns.metric.map { String(fields[$0]) } ?? metric ?? ""
        guard SampleText.isMetricName(name) else {
            return .failure(InputError(line: number, reason: "'\(SampleText.excerpt(name))' is not a metric name (letters, digits, _ and :, not starting with a digit)"))
        }
        guard let value = SampleText.value(fields[columns.value]) else {
            return .failure(InputError(line: number, reason: "'\(SampleText.excerpt(fields[columns.value]))' is not \(SampleText.valueHint)"))
        }
        var labels: [String: String] = [:]
        if let index = columns.labels {
            switch Self.labels(fields[index]) {
            case .success(let l): labels = l
            case .failure(let refusal): return .failure(InputError(line: number, reason: refusal.reason))
            }
        }
        return .success(Sample(metric: name, labels: labels, time: time, value: value))
    }

    private static let columnNames = ["timestamp", "metric", "value", "labels"]

    private mutating func header(_ fields: [Substring], number: Int) -> Result<Sample?, InputError> {
        func refuse(_ reason: String) -> Result<Sample?, InputError> {
            let error = InputError(line: number, reason: reason)
            headerFailure = error
            return .failure(error)
        }
        var positions: [String: Int] = [:]
        for (index, field) in fields.enumerated() {
            let name = field.lowercased()
            guard Self.columnNames.contains(name) else {
                if index == 0, SeriesTimestamp.parse(field) != nil {
                    return refuse("expected a header line naming the columns, such as timestamp,metric,value; found a row")
                }
                return refuse("unknown column '\(SampleText.excerpt(field))'; the columns are timestamp, metric, value and labels")
            }
            guard positions[name] == nil else { return refuse("column '\(name)' is named twice") }
            positions[name] = index
        }
        guard let timestamp = positions["timestamp"], let value = positions["value"] else {
            return refuse("the header must name a timestamp and a value column, such as timestamp,metric,value")
        }
        if positions["metric"] == nil, metric == nil {
            return refuse("the header has no metric column (timestamp,value) and no metric name was given for its rows")
        }
        columns = Columns(timestamp: timestamp, metric: positions["metric"], value: value, labels: positions["labels"],
                          count: fields.count, line: number)
        return .success(nil)
    }

    /// Splits a line at commas outside double quotes; fields trimmed and unquoted. Works on the
    /// UTF-8 view: the delimiters are ASCII, so every cut is at a character boundary.
    static func fields(_ line: Substring) -> Result<[Substring], Refusal> {
        let u = line.utf8
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var fields: [Substring] = []
        var i = u.startIndex
        while true {
            while i < u.endIndex, u[i] == space || u[i] == tab { i = u.index(after: i) }
            if i < u.endIndex, u[i] == quote {
                var bytes: [UInt8] = []
                i = u.index(after: i)
                var closed = false
                while i < u.endIndex {
                    if u[i] == quote {
                        let next = u.index(after: i)
                        if next < u.endIndex, u[next] == quote {
                            bytes.append(quote)
                            i = u.index(after: next)
                            continue
                        }
                        i = next
                        closed = true
                        break
                    }
                    bytes.append(u[i])
                    i = u.index(after: i)
                }
                guard closed else { return .failure(Refusal("a quoted field is not closed: missing '\"'")) }
                while i < u.endIndex, u[i] == space || u[i] == tab { i = u.index(after: i) }
                guard i == u.endIndex || u[i] == comma else { return .failure(Refusal("text after a quoted field; expected ','")) }
                fields.append(String(decoding: bytes, as: UTF8.self)[...])
            } else {
                let start = i
                while i < u.endIndex, u[i] != comma { i = u.index(after: i) }
                var end = i
                while end > start, u[u.index(before: end)] == space || u[u.index(before: end)] == tab { end = u.index(before: end) }
                fields.append(line[start..<end])
            }
            guard i < u.endIndex else { return .success(fields) }
            i = u.index(after: i)  // the comma
        }
    }

    /// `host=a;path=/var` → labels.
    static func labels(_ text: Substring) -> Result<[String: String], Refusal> {
        var labels: [String: String] = [:]
        for pair in text.split(separator: ";", omittingEmptySubsequences: true) {
            let trimmedPair = pair.drop { $0 == " " }
            if trimmedPair.isEmpty { continue }
            guard let equals = trimmedPair.firstIndex(of: "=") else {
                return .failure(Refusal("label '\(SampleText.excerpt(trimmedPair))' is not name=value (labels look like host=a;path=/var)"))
            }
            var name = trimmedPair[..<equals]
            while name.last == " " { name = name.dropLast() }
            guard SampleText.isLabelName(name) else {
                return .failure(Refusal("'\(SampleText.excerpt(name))' is not a label name (letters, digits and _, not starting with a digit)"))
            }
            guard labels[String(name)] == nil else { return .failure(Refusal("label '\(name)' is given twice")) }
            labels[String(name)] = String(trimmedPair[trimmedPair.index(after: equals)...])
        }
        return .success(labels)
    }

    struct Refusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
