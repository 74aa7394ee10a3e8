/// The metric sources file: which source serves which metric (`metric_sources:` list).
/// Bindings are tried in file order; the first whose patterns match a metric's name serves it.
public struct MetricSourceConfig: Sendable, Hashable, Codable {
    public var bindings: [MetricSourceBinding]
    /// The file it was read from.
    public var location: SourceLocation

    public init(bindings: [MetricSourceBinding], location: SourceLocation) {
        self.bindings = bindings
        self.location = location
    }

    /// The first binding that serves `metricName`, in file order.
    public func binding(for metricName: String) -> MetricSourceBinding? {
        bindings.first { $0.serves(metricName) }
    }
}

/// One entry of `metric_sources:`: a source and the metric names it answers for.
public struct MetricSourceBinding: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The Prometheus HTTP API (`url`).
        case prometheus
        /// A shell command that prints the value (`command`).
        case command
        /// A JSON object file, read on every query (`path`).
        case file
    }

    public var name: String
    public var kind: Kind
    /// `prometheus`: the server's base URL (`http://127.0.0.1:9090`).
    public var url: String?
    /// `command`: POSIX sh text.
    public var command: String?
    /// `file`: the file's path, already resolved against the metric sources file's folder.
    public var path: String?
    /// `command`: the folder the command runs in (the metric sources file's folder).
    public var workingDirectory: String?
    /// Metric names or globs (`*` matches any run of characters); `["*"]` when not written.
    public var metrics: [String]
    /// A multiplier applied to every number the source answers (`100` turns a ratio into percent).
    public var scale: Double?
    /// How long one query may take; nil for the engine's default.
    public var timeout: Interval?
    public var location: SourceLocation

    public init(name: String, kind: Kind, url: String? = nil, command: String? = nil, path: String? = nil,
                workingDirectory: String? = nil, metrics: [String] = ["*"], scale: Double? = nil, timeout: Interval? = nil,
                location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.url = url
        self.command = command
        self.path = path
        self.workingDirectory = workingDirectory
        self.metrics = metrics
        self.scale = scale
        self.timeout = timeout
        self.location = location
    }

    /// Whether one of `metrics` matches the name.
    public func serves(_ metricName: String) -> Bool {
        metrics.contains { Self.glob($0, matches: metricName) }
    }

    /// `*` matches any run of characters (also none); every other character matches itself.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        // Iterative wildcard matching with one backtrack point: linear in practice, never exponential.
        var pi = 0, ni = 0
        var star: Int?, resume = 0
        while ni < n.count {
            if pi < p.count, p[pi] != "*", p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                resume = ni
                pi += 1
            } else if let s = star {
                pi = s + 1
                resume += 1
                ni = resume
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
