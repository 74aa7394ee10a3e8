import MedicModel

/// Which source serves which metric. The first configured source (in file order) one of whose
/// patterns matches the metric's name serves it, and its answer is final: a source that has no
/// such series does not pass the question on. The built-in host metrics answer only names that
/// no configured source claims.
public struct MetricRegistry: Sendable {
    struct Entry: Sendable {
        var name: String
        var patterns: [String]
        var source: any MetricSource
        var scale: Double?
    }

    let entries: [Entry]
    let host: any MetricSource
    /// The metric sources file a missing source should be configured in, named by the error
    /// (`config` was read from it, or it does not exist yet); nil: none is known.
    let sourcesFile: String?

    /// The sources of a metric sources file (none when `config` is nil), with `host` for the
    /// names no binding claims. A query times out after the binding's `timeout`, else 10 s.
    /// Prometheus sources query through `http` (the engine's client, `EngineEnvironment.http`);
    /// command sources' processes are among `runningSteps` while they run (the engine's).
    /// With `guards`, each configured source is queried through its guard (`GuardedMetricSource`).
    public init(config: MetricSourceConfig?, host: any MetricSource = HostMetrics(), sourcesFile: String? = nil,
                http: EngineHTTPClient = EngineHTTPClient(), runningSteps: RunningSteps? = nil, guards: ExecutorGuards? = nil) {
        self.sourcesFile = sourcesFile
        entries = (config?.bindings ?? []).map { binding in
            let timeout = binding.timeout?.seconds ?? 10
            let source: any MetricSource = switch binding.kind {
            case .prometheus: PrometheusMetricSource(baseURL: binding.url ?? "", timeout: timeout, client: http)
            case .command: CommandMetricSource(command: binding.command ?? "", timeout: timeout,
                                               workingDirectory: binding.workingDirectory, runningSteps: runningSteps)
            case .file: FileMetricSource(path: binding.path ?? "")
            }
            let key = "metrics:" + (binding.kind == .prometheus ? binding.url ?? binding.name : binding.name)
            return Entry(name: binding.name, patterns: binding.metrics, source: guards.map { GuardedMetricSource(source, key: key, guards: $0) } ?? source,
                         scale: binding.scale)
        }
        self.host = host
    }

    init(entries: [Entry], host: any MetricSource) {
        self.entries = entries
        self.host = host
        sourcesFile = nil
    }

    /// Sources given directly, each with the names or globs it serves (tests, embedding).
    public init(sources: [(patterns: [String], source: any MetricSource)], host: any MetricSource = HostMetrics()) {
        entries = sources.enumerated().map { Entry(name: "#\($0.offset + 1)", patterns: $0.element.patterns, source: $0.element.source) }
        self.host = host
        sourcesFile = nil
    }

    /// The name of the configured source that serves `metricName`; nil when the host metrics do
    /// (or nothing does).
    public func sourceName(for metricName: String) -> String? {
        entries.first { $0.patterns.contains { MetricSourceBinding.glob($0, matches: metricName) } }?.name
    }

    /// The value of the series, scaled by its binding's `scale`. Throws `MetricError` when the
    /// source fails, and one with `isMissing` when nothing has the series; `CancellationError`
    /// when the task is cancelled.
    public func value(of selector: MetricSelector) async throws -> MetricValue {
        guard let entry = entries.first(where: { $0.patterns.contains { MetricSourceBinding.glob($0, matches: selector.name) } }) else {
            if let value = try await read(host, selector, sourceName: "host metrics") { return value }
            throw MetricError("no metric source serves '\(selector.name)'; built-in: \(HostMetrics.names.joined(separator: ", ")); "
                              + "configure one in " + (sourcesFile.map { "the metric sources file \($0)" } ?? "a metric sources file")
                              + " (docs/format.md, \"Metric sources\")", isMissing: true)
        }
        guard let value = try await read(entry.source, selector, sourceName: "metric source '\(entry.name)'") else {
            throw MetricError("metric source '\(entry.name)' has no series \(selector)", isMissing: true)
        }
        if let scale = entry.scale, case .number(let number) = value { return .number(number * scale) }
        return value
    }

    /// Asks one source, naming it in any error.
    private func read(_ source: any MetricSource, _ selector: MetricSelector, sourceName: String) async throws -> MetricValue? {
        do {
            return try await source.value(of: selector)
        } catch let error as MetricError {
            throw MetricError("\(sourceName), \(selector): \(error.description)", isMissing: error.isMissing)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw MetricError("\(sourceName), \(selector): \(error)")
        }
    }
}
