import Foundation
import Hummingbird
import MedicEngine
import MedicText
import Metrics
import Prometheus

/// The metrics of one `medic serve`, served at `GET /metrics` in the Prometheus text format
/// (docs/serving.md, "Metrics"). Each server has a registry of its own, never the process-wide
/// `MetricsSystem`, so that several servers in one process keep their counts apart.
///
/// Fed by the journal records of the runs the server starts (`runObserver`), by a middleware
/// that sees every request (`RequestMetricsMiddleware`), and, at each scrape, by the state it
/// reads: the open incidents, the playbooks' breakers and the guards of the engine's calls.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// swift-metrics over the same registry, for code that counts with `Counter(label:dimensions:factory:)`.
    public let factory: PrometheusMetricsFactory
    private let incidents: any IncidentStoring
    private let breaker: RemediationBreaker
    private let clock: any EngineClock
    /// The engine's guards, when the server exports them.
    private let guardExport: GuardMetricsExport?

    static let stepBuckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
    static let recoveryBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]
    static let requestBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public init(incidents: any IncidentStoring, stateDirectory: String, audit: any AuditLog, clock: any EngineClock,
                guards: ExecutorGuards? = nil) {
        guardExport = guards.map(GuardMetricsExport.init)
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        self.incidents = incidents
        breaker = RemediationBreaker(stateDirectory: stateDirectory, audit: audit)
        self.clock = clock
    }

    /// The middleware that counts every request, then `GET /metrics` (a viewer's, when tokens
    /// are configured; never rate limited, so that a scrape is not lost). Install it before the
    /// other routes: Hummingbird gives a route the middleware added before it.
    func install(on router: Router<BasicRequestContext>, access: AccessControl) {
        router.add(middleware: RequestMetricsMiddleware(metrics: self))
        router.get("/metrics", use: access.require(.viewer, limited: false) { _, _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: await self.exposition())))
        })
    }

    /// Adds `amount` to the counter `medic_<name>_total` with `labels`: for other parts of the
    /// server (escalations, notifications). One name must always be used with one help text
    /// and one set of label names.
    public func count(_ name: String, help: String, labels: [(String, String)] = [], by amount: Int64 = 1) {
        registry.makeCounter(descriptor: Self.name(name, unit: "total", help: help), labels: labels).increment(by: amount)
    }

    /// The exposition text, with the gauges read from the state first.
    public func exposition() async -> [UInt8] {
        let now = clock.now
        let open = await incidents.all().incidents.filter { $0.status == .firing }.count
        registry.makeGauge(descriptor: Self.name("open_incidents", unit: "", help: "Alert incidents firing now (opened, not resolved).")).set(to: Double(open))
        for (playbook, state) in await breaker.all(now: now) {
            for name in ["closed", "open", "half_open"] {
                registry.makeGauge(descriptor: Self.name("breaker_state", unit: "", help: "1 for the state each playbook's remediation breaker is in, 0 for the others."),
                                   labels: [("playbook", playbook), ("state", name)]).set(to: state.name == name ? 1 : 0)
            }
        }
        guardExport?.export(to: registry)
        return registry.emitToBuffer()
    }

    /// What the metrics take from one run's journal: its outcome, its steps' durations, its
    /// gates' verdicts, and the times to detect and to recover when it came from a detection.
    /// `playbook` nil: the one of the plan in its `run_started`. `continued`: the run was started
    /// before (one decided after waiting for approval, whose `run_started` the observer is shown
    /// again), so its time to detect, counted at its start, is not counted twice.
    public func runObserver(playbook: String? = nil, continued: Bool = false) -> @Sendable (JournalRecord) -> Void {
        let run = ObservedRun(playbook: playbook)
        return { record in self.observe(record, run: run, continued: continued) }
    }

    /// What one run's later records need from its `run_started`: the playbook, and the
    /// detection's first-seen time (`run_finished` has no detection).
    final class ObservedRun: @unchecked Sendable {  // fields only under `lock`
        private let lock = NSLock()
        private var playbookID: String?
        private var firstSeenText: String?

        init(playbook: String?) { playbookID = playbook }

        var playbook: String {
            get { lock.withLock { playbookID ?? "unknown" } }
            set { lock.withLock { if playbookID == nil { playbookID = newValue } } }
        }
        var firstSeen: String? {
            get { lock.withLock { firstSeenText } }
            set { lock.withLock { firstSeenText = newValue } }
        }
    }

    func observe(_ record: JournalRecord, run: ObservedRun, continued: Bool) {
        if record.event == .runStarted, let plan = record.plan { run.playbook = plan.playbookID }
        let playbook = run.playbook
        switch record.event {
        case .runStarted:
            // Time to detect: from the fault first seen to Medic acting on it.
            if !continued, let detection = record.detection, let first = JournalRecord.date(detection.firstSeen), let detected = JournalRecord.date(detection.detectedAt) {
                registry.makeValueHistogram(descriptor: Self.name("time_to_detect", unit: "seconds", help: "MTTD: seconds from a fault first seen to its detection by Medic, per run started from a detection."),
                                            labels: [("playbook", playbook)], buckets: Self.recoveryBuckets).record(max(0, detected.timeIntervalSince(first)))
            }
            if let detection = record.detection { run.firstSeen = detection.firstSeen }
        case .gatesEvaluated:
            for verdict in record.gates ?? [] {
                count("gate_verdicts", help: "Gate verdicts of the runs started, by gate and verdict.",
                      labels: [("gate", verdict.gate.rawValue), ("verdict", verdict.decision.rawValue)])
            }
        case .stepFinished:
            guard let result = record.result else { return }
            registry.makeValueHistogram(descriptor: Self.name("step_duration", unit: "seconds", help: "Seconds each step attempt took, by playbook, phase and result."),
                                        labels: [("playbook", playbook), ("phase", record.phase?.rawValue ?? "step"),
                                                 ("result", result.succeeded ? "succeeded" : "failed")],
                                        buckets: Self.stepBuckets).record(result.seconds)
        case .runFinished:
            let outcome = record.outcome?.rawValue ?? "unknown"
            count("runs", help: "Runs finished, by playbook and outcome.", labels: [("playbook", playbook), ("outcome", outcome)])
            // Time to recover: from the fault first seen to the run that fixed it.
            if record.outcome == .succeeded, let first = run.firstSeen.flatMap(JournalRecord.date), let finished = JournalRecord.date(record.at) {
                registry.makeValueHistogram(descriptor: Self.name("time_to_recover", unit: "seconds", help: "MTTR: seconds from a fault first seen to the end of the run that fixed it (outcome succeeded)."),
                                            labels: [("playbook", playbook)], buckets: Self.recoveryBuckets).record(max(0, finished.timeIntervalSince(first)))
            }
        default:
            return
        }
    }

    /// One escalation level sent through one channel (`method`: its name in the configuration's `channels`).
    func escalationSent(level: Int, method: String) {
        count("escalations", help: "Escalation levels sent, by level and channel.", labels: [("level", String(level)), ("method", method)])
    }

    /// One request answered: counted by route, method and code, and timed.
    func request(route: String, method: String, code: Int, seconds: Double) {
        count("http_requests", help: "HTTP requests answered, by route (the matched pattern), method and status code.",
              labels: [("route", route), ("method", method), ("code", String(code))])
        registry.makeValueHistogram(descriptor: Self.name("http_request_duration", unit: "seconds", help: "Seconds to answer an HTTP request, by route and method."),
                                    labels: [("route", route), ("method", method)], buckets: Self.requestBuckets).record(seconds)
    }

    static func name(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "medic", metricName: name, unitName: unit, helpText: help)
    }

}

/// Counts and times every request, by the route it matched (`unmatched` for none, so that
/// probing unknown paths cannot grow the label set; Hummingbird names that case `NotFound`).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var route: String { context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 } ?? "unmatched" }
        do {
            let response = try await next(request, context)
            metrics.request(route: route, method: request.method.rawValue, code: response.status.code,
                            seconds: Self.seconds(since: started))
            return response
        } catch {
            let code = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(route: route, method: request.method.rawValue, code: code, seconds: Self.seconds(since: started))
            throw error
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
