/// One measurement of one series: what every input format is read into and what the rule
/// engine consumes. `time` is in epoch seconds; durations (`for`, cooldowns, resolution) are
/// measured on these times, never on the wall clock, so a replayed file behaves as the live
/// feed did.
public struct Sample: Sendable, Hashable, Codable {
    public var metric: String
    public var labels: [String: String]
    public var time: Double
    public var value: Double

    public init(metric: String, labels: [String: String] = [:], time: Double, value: Double) {
        self.metric = metric
        self.labels = labels
        self.time = time
        self.value = value
    }

    /// The series' identity as text: `metric{a="1",b="2"}`, labels sorted by name, values
    /// escaped as in the Prometheus text format (`\\`, `\"`, `\n`); the bare metric name when
    /// there are no labels.
    public var seriesKey: String { SeriesKey.text(metric: metric, labels: labels) }
}

/// Series and incident keys as text.
enum SeriesKey {
    static func text(metric: String, labels: [String: String]) -> String {
        guard !labels.isEmpty else { return metric }
        return metric + braces(labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// `{a="1",b="2"}` in the order given.
    static func braces(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// A series as a dictionary key: the metric and labels, with the hash computed once per sample
/// rather than once per rule that looks the series up.
struct SeriesIdentity: Hashable, Sendable {
    let metric: String
    let labels: [String: String]
    private let hash: Int

    init(metric: String, labels: [String: String]) {
        self.metric = metric
        self.labels = labels
        var hasher = Hasher()
        hasher.combine(metric)
        hasher.combine(labels)
        hash = hasher.finalize()
    }

    init(_ sample: Sample) { self.init(metric: sample.metric, labels: sample.labels) }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func == (a: SeriesIdentity, b: SeriesIdentity) -> Bool {
        a.hash == b.hash && a.metric == b.metric && a.labels == b.labels
    }

    var key: String { SeriesKey.text(metric: metric, labels: labels) }
}
