import Foundation
import Logging
import MedicEngine
import MedicModel
import MedicText
import ServiceLifecycle

/// Runs the escalation policies of the incidents (docs/escalation.md). Every firing incident
/// whose severity the configuration maps to a policy gets a durable record of the policy's
/// levels, each due at the incident's opening plus its delay. Levels go in order: a level is
/// considered once the one before it is sent or skipped. A level whose condition no longer holds
/// (`not_acknowledged` once acknowledged; any level once resolved) is skipped. A run of the
/// incident that ends failed, rolled back, refused or escalated, or that a gate holds for a
/// person's approval, brings the next level forward to now, once (§5.4's "escalate one level").
///
/// Its state is the `EscalationLedger`, so it picks up where it was after a restart: claimed
/// before sent, marked after, a claimed level resent (same dedup key) at the next start.
public actor EscalationScheduler: Service {
    let settings: EscalationSettings
    let catalog: Catalog
    let incidents: FileIncidentStore
    let ledger: EscalationLedger
    let stores: StateStores
    let clock: any EngineClock
    /// The bus executor the `bus` channel publishes through.
    let bus: any StepExecutor
    let logger: Logger
    /// Counts the levels sent, by level and channel (nil: no metrics).
    let metrics: ServerMetrics?
    /// Incident keys already looked at (a record begun, or nothing to escalate).
    private var seen: Set<String> = []
    /// Records with nothing left to do.
    private var finished: Set<String> = []
    /// A failed send is tried again after this time (in-memory: a restart tries at once).
    private var retryAfter: [String: Date] = [:]

    public init(settings: EscalationSettings, catalog: Catalog, incidents: FileIncidentStore, ledger: EscalationLedger, stores: StateStores,
                clock: any EngineClock, bus: any StepExecutor, logger: Logger, metrics: ServerMetrics? = nil) {
        self.settings = settings
        self.catalog = catalog
        self.incidents = incidents
        self.ledger = ledger
        self.stores = stores
        self.clock = clock
        self.bus = bus
        self.logger = logger
        self.metrics = metrics
    }

    public nonisolated func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.tick()
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }

    /// One pass: records begun for new incidents, then every level due sent or skipped.
    public func tick() async {
        let now = clock.now
        for key in incidentKeys() where !seen.contains(key) {
            do {
                if let incident = try incidents.incident(key: key) { try begin(incident) }
                seen.insert(key)
            } catch {
                logger.warning("medic: warning: escalation of \(key) could not begin: \(error)")
            }
        }
        for key in ledger.incidents() where !finished.contains(key) {
            if let after = retryAfter[key], after > now { continue }
            do {
                try await advance(key, now: now)
            } catch {
                logger.warning("medic: warning: escalation of \(key): \(error)")
                retryAfter[key] = now.addingTimeInterval(5)
            }
        }
    }

    private func incidentKeys() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: incidents.directory)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
    }

    /// The incident's severity: its alert's `severity` label, else its playbook's, else SEV2.
    func severity(_ incident: AlertIncident) -> Severity {
        if let label = incident.labels["severity"].flatMap(Severity.init(text:)) { return label }
        if let id = incident.playbook, let playbook = catalog.playbook(id: id) { return playbook.severity }
        return .sev2
    }

    private func begin(_ incident: AlertIncident) throws {
        guard incident.status == .firing else { return }
        let severity = severity(incident)
        guard let id = settings.policies[severity], let policy = catalog.policies.escalationPolicies.first(where: { $0.id == id }) else { return }
        let opened = Timestamp(rfc3339: incident.openedAt)?.date ?? clock.now
        let levels = policy.chain.sorted { $0.level < $1.level }.map {
            EscalationRecord.Level(level: $0.level, due: JournalRecord.timestamp(opened.addingTimeInterval($0.delay.seconds)), condition: $0.condition,
                                   notify: $0.notify, methods: $0.methods, state: .pending)
        }
        _ = try ledger.begin(EscalationRecord(incident: incident.key, policy: id, severity: "\(severity)", levels: levels, trigger: nil))
    }

    private func advance(_ key: String, now: Date) async throws {
        guard var record = try ledger.record(key) else { return }
        guard let incident = try incidents.incident(key: key) else { return }
        if record.trigger == nil, let trigger = autoEscalation(incident),
           let next = record.levels.firstIndex(where: { $0.state == .pending }) {
            record = try ledger.update(key) {
                $0.trigger = trigger
                if (JournalRecord.date($0.levels[next].due) ?? .distantPast) > now { $0.levels[next].due = JournalRecord.timestamp(now) }
                return true
            } ?? record
            logger.notice("escalation: \(key): \(trigger): level \(record.levels[next].level) now")
        }
        levels: while let index = record.levels.firstIndex(where: { $0.state == .pending || $0.state == .claimed }) {
            let level = record.levels[index]
            if let stop = stopReason(level, incident) {
                record = try ledger.update(key) {
                    $0.levels[index].state = .skipped
                    $0.levels[index].note = stop
                    return true
                } ?? record
                continue
            }
            if level.state == .pending {
                guard (JournalRecord.date(level.due) ?? .distantPast) <= now else { break levels }
                // The claim is durable before any channel is called.
                record = try ledger.update(key) {
                    guard $0.levels[index].state == .pending else { return false }
                    $0.levels[index].state = .claimed
                    $0.levels[index].claimedAt = JournalRecord.timestamp(now)
                    return true
                } ?? record
            }
            try await send(level, record: record, incident: incident)
            record = try ledger.update(key) {
                $0.levels[index].state = .sent
                $0.levels[index].sentAt = JournalRecord.timestamp(clock.now)
                return true
            } ?? record
            logger.notice("escalation: \(key): level \(level.level) sent to \(level.notify) by \(level.methods.joined(separator: " + "))")
        }
        let trackers = trackingChannels(record)
        for (kind, done) in [(Notification.Kind.acknowledged, incident.acknowledgement != nil || incident.status == .resolved),
                             (.resolved, incident.status == .resolved)] where done && !trackers.isEmpty && !(record.followUps ?? []).contains(kind.rawValue) {
            guard let level = record.levels.last(where: { $0.state == .sent }) ?? record.levels.first else { break }
            var followUp = notification(level, record: record, incident: incident)
            followUp.kind = kind
            followUp.dedupKey = "\(record.incident)/\(kind.rawValue)"
            for channel in trackers { try await channel.send(followUp, bus: bus) }
            record = try ledger.update(key) {
                $0.followUps = ($0.followUps ?? []) + [kind.rawValue]
                return true
            } ?? record
        }
        // Done once nothing is left to send: every level, and the resolution to a tracking channel.
        let open = record.levels.contains { $0.state == .pending || $0.state == .claimed }
        if !open, trackers.isEmpty || incident.status == .resolved { finished.insert(key) }
    }

    /// The channels that keep the incident's state (PagerDuty) that a sent level went through.
    func trackingChannels(_ record: EscalationRecord) -> [NotificationChannel] {
        let methods = Set(record.levels.filter { $0.state == .sent || $0.state == .claimed }.flatMap(\.methods))
        return methods.sorted().compactMap { method in
            guard let channel = settings.channels[method], case .pagerDuty = channel else { return nil }
            return channel
        }
    }

    /// Why the level is not to be sent any more, or nil.
    func stopReason(_ level: EscalationRecord.Level, _ incident: AlertIncident) -> String? {
        if incident.status == .resolved { return "resolved" + (incident.resolution.map { " by \($0.by)" } ?? "") }
        if level.condition == "not_acknowledged", let ack = incident.acknowledgement { return "acknowledged by \(ack.by)" }
        return nil
    }

    /// §5.4's triggers seen in the incident's run: the reason, or nil.
    func autoEscalation(_ incident: AlertIncident) -> String? {
        guard let runID = incident.runID, incident.status == .firing,
              let text = try? String(contentsOfFile: stores.runs.journalPath(runID), encoding: .utf8) else { return nil }
        var held = false
        for line in text.split(separator: "\n").reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if object["event"] as? String == "approval_requested" { held = true }
            guard object["event"] as? String == "run_finished" else { continue }
            switch object["outcome"] as? String {
            case "failed": return "remediation failed (run \(runID))"
            case "rollback_failed": return "rollback failed (run \(runID))"
            case "rolled_back": return "remediation failed and was rolled back (run \(runID))"
            case "refused": return "a gate refused the automated run (run \(runID))"
            case "escalated", "partially_succeeded": return "the run was escalated (run \(runID))"
            default: return nil
            }
        }
        return held ? "a gate held the automated run for a person's approval (run \(runID))" : nil
    }

    private func send(_ level: EscalationRecord.Level, record: EscalationRecord, incident: AlertIncident) async throws {
        let notification = notification(level, record: record, incident: incident)
        for method in level.methods {
            guard let channel = settings.channels[method] else { throw NotificationChannel.Failure(description: "no channel carries '\(method)'") }
            var one = notification
            one.method = method
            try await channel.send(one, bus: bus)
            metrics?.escalationSent(level: level.level, method: method)
        }
    }

    func notification(_ level: EscalationRecord.Level, record: EscalationRecord, incident: AlertIncident) -> Notification {
        Notification(
            kind: .escalation, dedupKey: "\(record.incident)/level-\(level.level)", incident: record.incident, level: level.level,
            notify: level.notify, method: level.methods.joined(separator: " + "), severity: record.severity, policy: record.policy,
            summary: incident.annotations["summary"] ?? incident.labels["alertname"] ?? record.incident, reason: record.trigger,
            labels: incident.labels)
    }
}
