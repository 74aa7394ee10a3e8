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
    let incidents: any IncidentStoring
    let ledger: EscalationLedger
    let stores: StateStores
    let clock: any EngineClock
    /// Carries the notifications through the engine's executors, with retries and breakers.
    let delivery: ChannelDelivery
    let logger: Logger
    /// Counts the levels sent, by level and channel (nil: no metrics).
    let metrics: ServerMetrics?
    // The memory below holds keys of files on disk only: each pass drops the keys whose
    // incident or record is gone, so it never outgrows the state directory.
    /// Incident keys already looked at (a record begun, or nothing to escalate).
    private var seen: Set<String> = []
    /// Records with nothing left to do.
    private var finished: Set<String> = []
    /// A failed send is tried again after this time (in-memory: a restart tries at once).
    private var retryAfter: [String: Date] = [:]
    /// The records being advanced now, each by a task of its own: a channel that is slow to
    /// answer delays its own incident only.
    private var advancing: [String: Task<Void, Never>] = [:]
    /// §5.4's verdict on the runs that have ended (their journal will not change): the trigger,
    /// or nil for none. Dropped with the record's incident once it is finished.
    private var endedRuns: [String: String?] = [:]

    /// The incident that owns the run each folded incident was folded into, once found.
    private var owners: [String: String] = [:]

    /// Reads the library's §5.4 trigger conditions (incident facts first, then metrics).
    let evaluator: ConditionEvaluator
    /// When each incident's library triggers are next evaluated (in memory).
    private var triggersDue: [String: Date] = [:]
    /// Seconds between two evaluations of one incident's library triggers.
    static let triggerInterval = 5.0
    /// Seconds one evaluation of an incident's library triggers may take in all (metric queries).
    static let triggerBudget = 2.0

    /// Shared with the other servers of a database: who sends each level (nil: this server alone).
    let claims: (any EscalationClaims)?

    public init(settings: EscalationSettings, catalog: Catalog, incidents: any IncidentStoring, ledger: EscalationLedger, stores: StateStores,
                clock: any EngineClock, delivery: ChannelDelivery, logger: Logger, metrics: ServerMetrics? = nil,
                claims: (any EscalationClaims)? = nil, metricSources: MetricRegistry = MetricRegistry(sources: [])) {
        self.claims = claims
        self.evaluator = ConditionEvaluator(metrics: metricSources)
        self.settings = settings
        self.catalog = catalog
        self.incidents = incidents
        self.ledger = ledger
        self.stores = stores
        self.clock = clock
        self.delivery = delivery
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
        await stop()
    }

    /// One pass: records begun for new incidents, then every record with a level due advanced,
    /// each in a task of its own (one at a time per record).
    public func tick() async {
        let now = clock.now
        let keys = await incidentKeys()
        seen.formIntersection(keys)
        owners = owners.filter { seen.contains($0.key) }
        for key in keys where !seen.contains(key) {
            do {
                if let incident = try await incidents.incident(key: key) { try begin(incident) }
                seen.insert(key)
            } catch {
                logger.warning("medic: warning: escalation of \(key) could not begin: \(error)")
            }
        }
        let records = Set(ledger.incidents())
        finished.formIntersection(records)
        triggersDue = triggersDue.filter { records.contains($0.key) && !finished.contains($0.key) }
        retryAfter = retryAfter.filter { records.contains($0.key) }
        for key in records where !finished.contains(key) && advancing[key] == nil {
            if let after = retryAfter[key], after > now { continue }
            advancing[key] = Task { await self.advanceOnce(key, now: now) }
        }
    }

    /// Waits for the records being advanced (a test's, or the service's end).
    public func settle() async {
        while let task = advancing.values.first { await task.value }
    }

    private func stop() async {
        for task in advancing.values { task.cancel() }
        await settle()
    }

    private func advanceOnce(_ key: String, now: Date) async {
        do {
            try await advance(key, now: now)
        } catch {
            logger.warning("medic: warning: escalation of \(key): \(error)")
            retryAfter[key] = clock.now.addingTimeInterval(5)
        }
        advancing[key] = nil
    }

    private func incidentKeys() async -> [String] {
        (try? await incidents.keys()) ?? []
    }

    /// The incident's severity: its alert's `severity` label, else its playbook's, else SEV2.
    func severity(_ incident: AlertIncident) -> Severity { incident.severity(in: catalog) }

    private func begin(_ incident: AlertIncident) throws {
        guard incident.status == .firing else { return }
        let severity = severity(incident)
        let policy = settings.policies[severity].flatMap { id in catalog.policies.escalationPolicies.first { $0.id == id } }
        let opened = Timestamp(rfc3339: incident.openedAt)?.date ?? clock.now
        var levels = (policy?.chain ?? []).sorted { $0.level < $1.level }.map {
            EscalationRecord.Level(level: $0.level, due: JournalRecord.timestamp(opened.addingTimeInterval($0.delay.seconds)), condition: $0.condition,
                                   notify: $0.notify, methods: $0.methods, state: .pending)
        }
        let notice = severityLevel(severity)
        if let notice, let first = SeverityNotice.level(notice, opened: opened, carried: { settings.channels[$0] != nil }) { levels.insert(first, at: 0) }
        // The library's triggers may raise an incident no policy pages yet: it gets a record too.
        guard policy != nil || notice.map(SeverityNotice.pages) == true || !catalog.policies.autoEscalationTriggers.isEmpty else { return }
        _ = try ledger.begin(EscalationRecord(incident: incident.key, policy: policy?.id ?? "", severity: "\(severity)", levels: levels, trigger: nil))
    }

    /// The library's §5.1 level of `severity`, when the configuration lets severity levels page.
    func severityLevel(_ severity: Severity) -> SeverityLevelPolicy? {
        guard settings.severityLevels else { return nil }
        return catalog.policies.severityLevels.first { $0.severity == severity }
    }

    private func advance(_ key: String, now: Date) async throws {
        guard var record = try ledger.record(key) else { return }
        guard let incident = try await incidents.incident(key: key) else { return }
        if record.trigger == nil, let trigger = await autoEscalation(incident) ?? missedDeadline(incident, record: record, now: now),
           let next = record.levels.firstIndex(where: { $0.state == .pending }) {
            record = try ledger.update(key) {
                $0.trigger = trigger
                if (JournalRecord.date($0.levels[next].due) ?? .distantPast) > now { $0.levels[next].due = JournalRecord.timestamp(now) }
                return true
            } ?? record
            logger.notice("escalation: \(key): \(trigger): level \(record.levels[next].level) now")
        }
        if incident.status == .firing, !catalog.policies.autoEscalationTriggers.isEmpty, (triggersDue[key] ?? .distantPast) <= now {
            triggersDue[key] = now.addingTimeInterval(Self.triggerInterval)
            record = try await libraryTriggers(incident, record: record, now: now)
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
                switch await coverage(of: incident, severity: Severity(text: record.severity) ?? severity(incident), now: now) {
                case .none: break
                case .awaitingOwner:
                    retryAfter[key] = clock.now.addingTimeInterval(1)
                    break levels
                case .by(let owner):
                    // One fault, one page: the incident owning the run escalates it. Looked at
                    // again, in case that one resolves while this one still fires.
                    if record.coveredBy != owner {
                        record = try ledger.update(key) {
                            $0.coveredBy = owner
                            return true
                        } ?? record
                        logger.notice("escalation: \(key): folded into the run of \(owner), whose escalation stands for it")
                    }
                    retryAfter[key] = clock.now.addingTimeInterval(2)
                    break levels
                }
            }
            if let claims {
                switch try await claims.claim(incident: key, level: level.level) {
                case .mine: break
                case .heldElsewhere:
                    // Another server is sending it: look again later (its claim expires if it dies).
                    retryAfter[key] = clock.now.addingTimeInterval(1)
                    break levels
                case .sentElsewhere:
                    record = try ledger.update(key) {
                        $0.levels[index].state = .skipped
                        $0.levels[index].note = "sent by another server sharing the database"
                        $0.levels[index].sentElsewhere = true
                        return true
                    } ?? record
                    continue
                }
            }
            if level.state == .pending {
                // The claim is durable before any channel is called.
                record = try ledger.update(key) {
                    guard $0.levels[index].state == .pending else { return false }
                    $0.levels[index].state = .claimed
                    $0.levels[index].claimedAt = JournalRecord.timestamp(now)
                    return true
                } ?? record
            }
            try await send(level, record: record, incident: incident)
            // Shared first: a failure here leaves the level claimed in this ledger, so this
            // server sends it again (with the same dedup key) rather than leaving its claim
            // to expire and another server to page a second time later.
            try await claims?.markSent(incident: key, level: level.level)
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
            guard let level = record.levels.last(where: { $0.state == .sent || $0.sentElsewhere == true }) ?? record.levels.first else { break }
            // Servers sharing the database: one sends each follow-up, whichever sent the level.
            if let claims {
                switch try await claims.claim(incident: key, level: Self.followUpClaim(kind)) {
                case .mine: break
                case .heldElsewhere:
                    retryAfter[key] = clock.now.addingTimeInterval(1)
                    return
                case .sentElsewhere:
                    record = try ledger.update(key) {
                        $0.followUps = ($0.followUps ?? []) + [kind.rawValue]
                        return true
                    } ?? record
                    continue
                }
            }
            var followUp = notification(level, record: record, incident: incident)
            followUp.kind = kind
            followUp.dedupKey = "\(record.incident)/\(kind.rawValue)"
            for (method, channel) in trackers { try await delivery.send(followUp, method: method, channel: channel) }
            try await claims?.markSent(incident: key, level: Self.followUpClaim(kind))
            record = try ledger.update(key) {
                $0.followUps = ($0.followUps ?? []) + [kind.rawValue]
                return true
            } ?? record
        }
        // Done once nothing is left to send: every level, and the resolution to a tracking channel.
        let open = record.levels.contains { $0.state == .pending || $0.state == .claimed }
        // A firing incident with a library trigger yet to fire is looked at again when its triggers are due.
        let triggersLeft = incident.status == .firing
            && catalog.policies.autoEscalationTriggers.contains { trigger in !(record.fired ?? []).contains { $0.name == trigger.name } }
        if !open, !triggersLeft, trackers.isEmpty || incident.status == .resolved {
            finished.insert(key)
            if let runID = incident.runID { endedRuns[runID] = nil }
        } else if !open, triggersLeft, let due = triggersDue[key] {
            retryAfter[key] = due
        }
    }

    enum Coverage: Equatable {
        /// Escalated on its own.
        case none
        /// Folded moments ago into a run whose incident is not recorded yet: look again soon.
        case awaitingOwner
        /// The incident owning the run it was folded into fires and is at least as severe.
        case by(String)
    }

    /// Whether another incident's escalation stands for `incident`: the incident owning the run
    /// it was folded into, while that one fires and is at least as severe. The owner is looked
    /// for among the incidents once found, kept: one folded less than `ownerGrace` seconds ago
    /// waits for it (a rule's incident is written just after its run starts); later, none found
    /// means none (a run that `medic run` started has no incident).
    /// `severity`: the incident's escalation's (raised by a trigger, perhaps); the owner's is its
    /// escalation's too when it has one.
    func coverage(of incident: AlertIncident, severity: Severity, now: Date) async -> Coverage {
        guard let run = incident.foldedInto, incident.status == .firing else { return .none }
        let opened = Timestamp(rfc3339: incident.openedAt)?.date ?? .distantPast
        let waiting = now.timeIntervalSince(opened) < Self.ownerGrace
        var ownerKey = owners[incident.key]
        if ownerKey == nil {
            let listed = await incidents.all()
            ownerKey = listed.incidents.first { $0.runID == run && $0.foldedInto == nil && $0.key != incident.key }?.key
            // A listing that failed says nothing: look again (never page twice for a blip).
            if ownerKey == nil, !listed.problems.isEmpty { return .awaitingOwner }
            // None after the grace: none ever (an empty key remembers it, so the incidents are not read again).
            if ownerKey != nil || !waiting { owners[incident.key] = ownerKey ?? "" }
        }
        guard let ownerKey, !ownerKey.isEmpty else { return waiting ? .awaitingOwner : .none }
        let owner: AlertIncident?
        do {
            owner = try await incidents.incident(key: ownerKey)
        } catch {
            return .awaitingOwner
        }
        guard let owner, owner.status == .firing else { return .none }
        // The owner stands for this one only if its escalation pages someone.
        guard let record = try? ledger.record(ownerKey), !record.levels.isEmpty else { return .none }
        let ownerSeverity = Severity(text: record.severity) ?? self.severity(owner)
        guard ownerSeverity >= severity else { return .none }
        return .by(ownerKey)
    }

    /// Seconds a folded incident waits for the incident owning its run to be recorded.
    static let ownerGrace = 10.0

    /// The claim of a follow-up among servers sharing the database: a number no level has
    /// (levels are numbered from 0 by the policies), one per kind.
    static func followUpClaim(_ kind: Notification.Kind) -> Int { kind == .resolved ? 1_000_002 : 1_000_001 }

    /// The channels that follow the incident (PagerDuty) among those of the levels sent, by this
    /// server or by another sharing the database.
    func trackingChannels(_ record: EscalationRecord) -> [(method: String, channel: NotificationChannel)] {
        let methods = Set(record.levels.filter { $0.state == .sent || $0.state == .claimed || $0.sentElsewhere == true }.flatMap(\.methods))
        return methods.sorted().compactMap { method in
            guard let channel = settings.channels[method], case .pagerDuty = channel else { return nil }
            return (method, channel)
        }
    }

    /// Why the level is not to be sent any more, or nil.
    func stopReason(_ level: EscalationRecord.Level, _ incident: AlertIncident) -> String? {
        if incident.status == .resolved { return "resolved" + (incident.resolution.map { " by \($0.by)" } ?? "") }
        if level.condition == "not_acknowledged", let ack = incident.acknowledgement { return "acknowledged by \(ack.by)" }
        return nil
    }

    /// The library's §5.4 `auto_escalation_triggers` whose condition holds now and that have not
    /// fired for this incident yet, each applied once: `escalate_one_level` brings the next
    /// pending level forward to now; `escalate_to_sevN`, when more severe than the escalation's
    /// severity, raises it: the levels not yet sent become those of the new severity's policy
    /// numbered after the last level sent (due from the incident's opening, so at once when
    /// past), or, with no policy for it, the next pending level is brought forward. A condition
    /// that is false or cannot be decided fires nothing.
    func libraryTriggers(_ incident: AlertIncident, record: EscalationRecord, now: Date) async throws -> EscalationRecord {
        var record = record
        let runRecords: [JournalRecord]? = if let runID = incident.runID { try? await stores.runs.read(runID: runID).records } else { nil }
        for trigger in catalog.policies.autoEscalationTriggers where !(record.fired ?? []).contains(where: { $0.name == trigger.name }) {
            let facts = IncidentFacts.parameters(incident, severity: record.severity, now: now, runRecords: runRecords)
            // Metric sources that do not answer hold no page back for long: the pass has a budget.
            let left = Self.triggerBudget - clock.now.timeIntervalSince(now)
            guard left > 0 else { break }
            let (evaluator, condition) = (evaluator, trigger.condition)
            guard case .holds(let observed)? = try? await answered(within: left, { await evaluator.evaluate(condition, parameters: facts) })
            else { continue }
            let reason = (trigger.reason ?? trigger.name) + " (\(trigger.name): \(trigger.condition.source)" + (observed.isEmpty ? ")" : "; \(observed))")
            let current = Severity(text: record.severity) ?? .sev2
            let opened = Timestamp(rfc3339: incident.openedAt)?.date ?? now
            // Raising to a severity no more urgent than the escalation's changes nothing.
            let escalates = switch trigger.action {
            case .oneLevel: true
            case .toSeverity(let target): target > current
            }
            let raisedPolicy: EscalationPolicy? = switch trigger.action {
            case .toSeverity(let target) where target > current:
                settings.policies[target].flatMap { id in catalog.policies.escalationPolicies.first { $0.id == id } }
            default: nil
            }
            record = try ledger.update(incident.key) { record in
                record.fired = (record.fired ?? []) + [.init(name: trigger.name, at: JournalRecord.timestamp(now), reason: reason)]
                if case .toSeverity(let target) = trigger.action, target > current { record.severity = "\(target)" }
                if let raisedPolicy {
                    // Every level of the new policy, numbered after every level the record has
                    // held: a number (and so a claim shared with other servers, and a dedup key)
                    // is never given two contents, and the new policy's first level is paged
                    // even when the old one's chain was sent. The old policy's pending levels
                    // go; a severity level's notifications (level 0) stay.
                    let base = record.levels.map(\.level).max() ?? 0
                    record.levels.removeAll { $0.state == .pending && $0.recipients == nil }
                    record.levels += raisedPolicy.chain.sorted { $0.level < $1.level }.enumerated().map { offset, level in
                        EscalationRecord.Level(level: base + 1 + offset, due: JournalRecord.timestamp(opened.addingTimeInterval(level.delay.seconds)),
                                               condition: level.condition, notify: level.notify, methods: level.methods, state: .pending, reason: reason)
                    }
                    record.policy = raisedPolicy.id
                } else if escalates, let next = record.levels.firstIndex(where: { $0.state == .pending }),
                          (JournalRecord.date(record.levels[next].due) ?? .distantPast) > now {
                    record.levels[next].due = JournalRecord.timestamp(now)
                    record.levels[next].reason = reason
                }
                return true
            } ?? record
            logger.notice("escalation: \(incident.key): trigger \(trigger.name): \(reason)")
        }
        return record
    }

    /// A §5.1 deadline of the incident's severity level it has missed (as `SeverityNotice` reads them).
    func missedDeadline(_ incident: AlertIncident, record: EscalationRecord, now: Date) -> String? {
        guard let severity = Severity(text: record.severity), let level = severityLevel(severity),
              let opened = Timestamp(rfc3339: incident.openedAt)?.date else { return nil }
        return SeverityNotice.missedDeadline(level, incident: incident, opened: opened, now: now)
    }

    /// §5.4's triggers seen in the incident's run: the reason, or nil. Read through the run
    /// store; once the run has ended its verdict is kept, and its journal not read again.
    func autoEscalation(_ incident: AlertIncident) async -> String? {
        guard let runID = incident.runID, incident.status == .firing else { return nil }
        if let verdict = endedRuns[runID] { return verdict }
        guard let records = try? await stores.runs.read(runID: runID).records else { return nil }
        guard let finished = records.last(where: { $0.event == .runFinished }) else {
            return records.contains { $0.event == .approvalRequested }
                ? "a gate held the automated run for a person's approval (run \(runID))" : nil
        }
        let verdict: String? = switch finished.outcome {
        case .failed: "remediation failed (run \(runID))"
        case .rollbackFailed: "rollback failed (run \(runID))"
        case .rolledBack: "remediation failed and was rolled back (run \(runID))"
        case .refused: "a gate refused the automated run (run \(runID))"
        case .escalated, .partiallySucceeded: "the run was escalated (run \(runID))"
        default: nil
        }
        endedRuns[runID] = .some(verdict)
        return verdict
    }

    private func send(_ level: EscalationRecord.Level, record: EscalationRecord, incident: AlertIncident) async throws {
        let notification = notification(level, record: record, incident: incident)
        for method in level.methods {
            guard let channel = settings.channels[method] else { throw NotificationChannel.Failure(description: "no channel carries '\(method)'") }
            var one = notification
            one.method = method
            if let recipients = level.recipients?[method] { one.notify = recipients.joined(separator: ", ") }
            try await delivery.send(one, method: method, channel: channel)
            metrics?.escalationSent(level: level.level, method: method)
        }
    }

    func notification(_ level: EscalationRecord.Level, record: EscalationRecord, incident: AlertIncident) -> Notification {
        Notification(
            kind: .escalation, dedupKey: "\(record.incident)/level-\(level.level)", incident: record.incident, level: level.level,
            notify: level.notify, method: level.methods.joined(separator: " + "), severity: record.severity,
            policy: level.recipients != nil ? "severity_levels" : record.policy,
            summary: incident.annotations["summary"] ?? incident.labels["alertname"] ?? record.incident, reason: level.reason ?? record.trigger,
            labels: incident.labels)
    }
}
