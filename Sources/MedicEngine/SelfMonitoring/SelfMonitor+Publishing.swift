import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What one `evaluateAndPublish` did. Encoded (`medic health --json`) as the report's fields
/// (`checked_at`, `healthy`, `checks`, `problems`) and `published` (`type`, `key`, `event_id`),
/// `already_raised`, `failures`, `skipped_busy`.
public struct HealthEvaluation: Sendable, Hashable, Encodable {
    /// One event published on the bus.
    public struct Published: Sendable, Hashable, Encodable {
        /// `dev.medic.health.alert` or `dev.medic.health.resolved`.
        public var type: String
        public var key: String
        public var eventID: String?

        private enum CodingKeys: String, CodingKey { case type, key, eventID = "event_id" }
    }

    public var report: HealthReport
    /// Events published by this evaluation: alerts newly raised, alerts cleared.
    public var published: [Published]
    /// Alerts raised by an earlier evaluation and still raised (not published again).
    public var alreadyRaised: [String]
    /// Events that could not be published (the bus refused or could not be reached): the alert
    /// stays unpublished (or the cleared alert stays raised) and the next evaluation tries again.
    public var failures: [String]
    /// Another evaluation held `<state>/health/alerts.lock`: this one published nothing (that one does).
    public var skippedBusy: Bool

    private enum CodingKeys: String, CodingKey {
        case checkedAt = "checked_at", healthy, checks, problems, published, failures
        case alreadyRaised = "already_raised"
        case skippedBusy = "skipped_busy"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(JournalRecord.timestamp(report.checkedAt), forKey: .checkedAt)
        try container.encode(report.healthy, forKey: .healthy)
        try container.encode(report.checks, forKey: .checks)
        try container.encode(report.problems, forKey: .problems)
        try container.encode(published, forKey: .published)
        try container.encode(alreadyRaised, forKey: .alreadyRaised)
        try container.encode(failures, forKey: .failures)
        try container.encode(skippedBusy, forKey: .skippedBusy)
    }
}

extension SelfMonitor {
    public static let alertTopic = "dev.medic.health.alert"
    public static let resolvedTopic = "dev.medic.health.resolved"

    /// `<state>/health`: `alerts.json` (the alerts raised, replaced atomically), `alerts.jsonl`
    /// (every raise and clear, appended), `alerts.lock`.
    public var healthDirectory: String { (stateDirectory as NSString).appendingPathComponent("health") }

    /// The alerts raised and published, by key, as `alerts.json` keeps them.
    public struct RaisedAlert: Sendable, Hashable, Codable {
        public var name: String
        public var severity: String
        public var raisedAt: String
        public var observed: String
        public var eventID: String?

        enum CodingKeys: String, CodingKey {
            case name, severity, observed
            case raisedAt = "raised_at"
            case eventID = "event_id"
        }
    }

    private struct Document: Codable {
        var raised: [String: RaisedAlert]
    }

    /// The alerts `alerts.json` says are raised; none when it is absent or unreadable.
    public func raisedAlerts() -> [String: RaisedAlert] {
        guard let data = FileManager.default.contents(atPath: healthDirectory + "/alerts.json") else { return [:] }
        return (try? JSONDecoder().decode(Document.self, from: data))?.raised ?? [:]
    }

    /// Runs the checks and tells the bus what changed since the last evaluation: each alert
    /// not raised yet is published once (`dev.medic.health.alert`), each raised alert whose
    /// condition no longer holds is published once as cleared (`dev.medic.health.resolved`);
    /// an alert still raised is not published again. A check that cannot be decided (`unknown`)
    /// neither raises nor clears.
    ///
    /// `bus` is the executor runs publish their escalations through (a `BusExecutor`); events
    /// have source `medic/runs/health`, subject the alert name, and the alert's fields as data.
    /// At most one evaluation of a state directory publishes at a time (an `flock` on
    /// `<state>/health/alerts.lock`); another finding it held publishes nothing and says so.
    /// Delivery is at least once: a crash between publishing and saving `alerts.json` publishes again.
    ///
    /// Throws `JournalError` when `<state>/health` cannot be written.
    public func evaluateAndPublish(now: Date? = nil, bus: any StepExecutor) async throws -> HealthEvaluation {
        let now = now ?? clock.now
        let report = await report(now: now)
        // Healthy with nothing raised before: nothing to publish, nothing created.
        if report.alerts.isEmpty && !FileManager.default.fileExists(atPath: healthDirectory + "/alerts.json") {
            return HealthEvaluation(report: report, published: [], alreadyRaised: [], failures: [], skippedBusy: false)
        }
        do {
            try FileManager.default.createDirectory(atPath: healthDirectory, withIntermediateDirectories: true)
        } catch {
            throw JournalError("cannot create \(healthDirectory): \(error.localizedDescription)")
        }
        guard let lock = try RunLock(path: healthDirectory + "/alerts.lock") else {
            return HealthEvaluation(report: report, published: [], alreadyRaised: [], failures: [], skippedBusy: true)
        }
        defer { withExtendedLifetime(lock) {} }

        var raised = raisedAlerts()
        let before = raised
        var published: [HealthEvaluation.Published] = []
        var failures: [String] = []
        var history: [[String: String]] = []
        let at = JournalRecord.timestamp(now)

        let current = report.alerts
        for alert in current where raised[alert.key] == nil {
            var data = alert.eventData
            data["raised_at"] = at
            switch await publish(Self.alertTopic, subject: alert.name, data: data, via: bus) {
            case .success(let eventID):
                raised[alert.key] = RaisedAlert(name: alert.name, severity: alert.severity.word, raisedAt: at, observed: alert.observed,
                                                eventID: eventID)
                published.append(.init(type: Self.alertTopic, key: alert.key, eventID: eventID))
                history.append(["event": "raised", "key": alert.key, "alert": alert.name, "severity": alert.severity.word,
                                "at": at, "observed": alert.observed, "event_id": eventID ?? ""])
            case .failure(let reason):
                failures.append("\(alert.key): \(reason)")
            }
        }

        let currentKeys = Set(current.map(\.key))
        let undecided = Set(report.checks.filter { $0.verdict == .unknown }.map(\.name))
        for (key, entry) in raised.sorted(by: { $0.key < $1.key }) where !currentKeys.contains(key) && !undecided.contains(entry.name) {
            let observed = report.checks.first { $0.name == entry.name }?.observed ?? ""
            let data = ["alert": entry.name, "key": key, "severity": entry.severity, "raised_at": entry.raisedAt,
                        "resolved_at": at, "observed": observed]
            switch await publish(Self.resolvedTopic, subject: entry.name, data: data, via: bus) {
            case .success(let eventID):
                raised[key] = nil
                published.append(.init(type: Self.resolvedTopic, key: key, eventID: eventID))
                history.append(["event": "resolved", "key": key, "alert": entry.name, "severity": entry.severity, "at": at,
                                "observed": observed, "event_id": eventID ?? ""])
            case .failure(let reason):
                failures.append("\(key) (resolved): \(reason)")
            }
        }

        if raised != before {
            let path = healthDirectory + "/alerts.json"
            if raised.isEmpty {
                // Nothing raised: no file, so the next healthy evaluation takes the cheap path.
                guard unlink(path) == 0 || errno == ENOENT else {
                    throw JournalError("cannot remove \(path): \(String(cString: strerror(errno)))")
                }
            } else {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                try StateFiles.writeAtomically(try encoder.encode(Document(raised: raised)), to: path)
            }
        }
        if !history.isEmpty { try appendHistory(history) }
        let still = current.map(\.key).filter { before[$0] != nil }
        return HealthEvaluation(report: report, published: published, alreadyRaised: still, failures: failures, skippedBusy: false)
    }

    private enum Outcome { case success(String?), failure(String) }

    private func publish(_ topic: String, subject: String, data: [String: String], via bus: any StepExecutor) async -> Outcome {
        let request = ExecutionRequest(runID: "health", stepNumber: 0, stepName: subject, action: "health_alert", purpose: .escalation,
                                       executor: .bus, topic: topic, parameters: data, timeout: 30)
        do {
            let result = try await bus.execute(request)
            return result.succeeded ? .success(result.outputs["event_id"]) : .failure(result.summary)
        } catch {
            return .failure("\(error)")
        }
    }

    /// Appends the raise and clear records to `<state>/health/alerts.jsonl` with one write, fsync'ed.
    private func appendHistory(_ records: [[String: String]]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for record in records { lines += try encoder.encode(record) + Data("\n".utf8) }
        let path = healthDirectory + "/alerts.jsonl"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = lines.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == lines.count, fsync(fd) == 0 else {
            throw JournalError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
