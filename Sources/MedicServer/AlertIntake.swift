import Foundation
import MedicEngine
import MedicModel
import MedicText

/// Turns an Alertmanager post into durable incidents: each firing alert opens its incident
/// (routed to a playbook, its parameters and its target, or recorded as unhandled), each
/// resolved alert resolves its incident. It starts nothing itself; it says which incidents are
/// new, for the caller to hand to the runner once they are durable.
public struct AlertIntake: Sendable {
    /// The catalog and configuration in force (replaced whole at a reload).
    public let library: ServedLibrary
    public let store: any IncidentStoring
    /// The runs going, by playbook and targets: an alert for one of them folds into it.
    public let going: RemediationsGoing
    /// The lead incident of each Alertmanager group: the group's later alerts fold into its run.
    public let groups: any AlertGroupLeads
    /// Ranks the candidates of a route with `playbooks:` (nil: the first candidate is taken,
    /// unranked).
    public let ranker: CandidateRanker?
    /// Servers sharing a database: whether a run another server was last seen remediating the
    /// same playbook and targets with is still going (read from the run store), before an
    /// alert folds into it; nil: this server's runs are the only ones.
    public var stillGoingElsewhere: (@Sendable (String) async -> Bool)? = nil
    public var catalog: Catalog { library.current.catalog }
    public var configuration: ServeConfiguration { library.current.configuration }

    public init(catalog: Catalog, configuration: ServeConfiguration, store: any IncidentStoring) {
        self.init(library: ServedLibrary(catalog: catalog, configuration: configuration), store: store)
    }

    public init(library: ServedLibrary, store: any IncidentStoring, going: RemediationsGoing = RemediationsGoing(),
                groups: any AlertGroupLeads = AlertGroups(), ranker: CandidateRanker? = nil) {
        self.library = library
        self.store = store
        self.going = going
        self.groups = groups
        self.ranker = ranker
    }

    /// What became of one alert of a post.
    public struct Outcome: Sendable {
        public enum Kind: String, Sendable {
            /// A new incident: its run is to be started (or none, if unhandled).
            case opened
            /// The incident existed (a repeat or a retry): nothing starts.
            case existing
            case resolved
            /// A resolved alert whose firing Medic never recorded.
            case unknown
        }

        public var kind: Kind
        public var key: String
        public var incident: AlertIncident?
    }

    /// A post whose alerts were recorded only in part: `recorded`, the outcomes of the alerts
    /// made durable before `cause` stopped the rest. Their runs must still be started (a retry
    /// of the post finds them existing and starts nothing).
    public struct PartlyRecorded: Error, CustomStringConvertible {
        public let recorded: [Outcome]
        public let cause: any Error
        public var description: String { "\(cause)" }
    }

    /// Records every alert of `payload`; throws `PartlyRecorded` when the store cannot make one
    /// durable (the alerts before it are kept, with their outcomes in the error).
    public func accept(_ payload: AlertmanagerPayload, now: Date) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        do {
            try await accept(payload, now: now, into: &outcomes)
        } catch {
            throw PartlyRecorded(recorded: outcomes, cause: error)
        }
        return outcomes
    }

    private func accept(_ payload: AlertmanagerPayload, now: Date, into outcomes: inout [Outcome]) async throws {
        // One snapshot for the whole post: a reload meanwhile applies to the next post.
        let served = library.current
        for alert in payload.alerts {
            let key = Self.key(alert)
            switch alert.status {
            case .resolved:
                let time = alert.endsAt ?? Timestamp(now)
                let resolved = try await store.resolve(key: key, at: (time ?? Timestamp(seconds: 0)).rfc3339())
                outcomes.append(Outcome(kind: resolved == nil ? .unknown : .resolved, key: key, incident: resolved))
            case .firing:
                let candidate = try await incident(alert, key: key, payload: payload, now: now, served: served)
                let opened: (incident: AlertIncident, created: Bool)
                do {
                    opened = try await store.open(candidate)
                } catch {
                    // Unless a concurrent post of the same alert made it durable, its claims end.
                    if (try? await store.incident(key: key)) ?? nil == nil {
                        if candidate.foldedInto == nil, let runID = candidate.runID { going.release(runID: runID) }
                        if let group = Self.group(of: candidate) { await groups.release(group, key: key) }
                    }
                    throw error
                }
                // A concurrent post of the same alert opened it first, folded into the very run
                // this post claimed to start (it found that run going, or its group's lead in
                // it): no one else starts that run, so this post does.
                if !opened.created, candidate.foldedInto == nil, let runID = candidate.runID, opened.incident.foldedInto == runID {
                    // Its record says so: the run is its own, not another trigger's.
                    let unfolded = try? await store.update(key: key) { stored in
                        guard stored.foldedInto == runID else { return "changed meanwhile" }
                        (stored.foldedInto, stored.reason) = (nil, nil)
                        return nil
                    }
                    if case .changed(let incident) = unfolded {
                        outcomes.append(Outcome(kind: .opened, key: key, incident: incident))
                    } else {
                        outcomes.append(Outcome(kind: .opened, key: key, incident: candidate))
                    }
                    continue
                }
                // A repeat or a retry: the run claimed for the candidate will not start.
                if !opened.created, candidate.foldedInto == nil, let runID = candidate.runID, runID != opened.incident.runID {
                    going.release(runID: runID)
                }
                outcomes.append(Outcome(kind: opened.created ? .opened : .existing, key: key, incident: opened.incident))
            }
        }
    }

    /// `<fingerprint>-<startsAt in ms>`: the same for every post about one firing of one alert.
    public static func key(_ alert: AlertmanagerPayload.Alert) -> String {
        alert.fingerprint + "-" + String(alert.startsAt.millisecondsSince1970)
    }

    /// The incident a firing alert opens, with the decision on how it is handled.
    func incident(_ alert: AlertmanagerPayload.Alert, key: String, payload: AlertmanagerPayload, now: Date,
                  served: ServedLibrary.Snapshot) async throws -> AlertIncident {
        let (catalog, configuration) = (served.catalog, served.configuration)
        var incident = AlertIncident(
            key: key, fingerprint: alert.fingerprint, groupKey: payload.groupKey, receiver: payload.receiver, status: .firing,
            labels: alert.labels, annotations: alert.annotations, startsAt: alert.startsAt.rfc3339(), generatorURL: alert.generatorURL,
            openedAt: (Timestamp(now) ?? Timestamp(seconds: 0)).rfc3339(), resolvedAt: nil, handling: .unhandled, reason: nil,
            route: nil, playbook: nil, parameters: [:], target: nil, runID: nil)
        let alertname = alert.labels["alertname"] ?? ""
        if let index = configuration.routes.firstIndex(where: { $0.matches(alert.labels) }) {
            let route = configuration.routes[index]
            incident.handling = .route
            incident.route = index
            incident.playbook = route.playbook
            for (parameter, label) in route.parametersFromLabels.sorted(by: { $0.key < $1.key }) {
                guard let value = alert.labels[label] else {
                    return unhandled(incident, "route \(index + 1) takes parameter '\(parameter)' from label '\(label)', which the alert does not have")
                }
                incident.parameters[parameter] = value
            }
            if let label = route.targetLabel {
                guard let target = alert.labels[label], !target.isEmpty else {
                    return unhandled(incident, "route \(index + 1) takes the target from label '\(label)', which the alert does not have")
                }
                incident.target = target
            }
            if !route.candidates.isEmpty, let ranker {
                // The fault's severity before any candidate is chosen: its label (else SEV2), raised by its impact.
                let severity = CandidateRanker.faultSeverity(of: incident)
                let (chosen, ranking, reason) = ranker.rank(incident, candidates: route.candidates, severity: severity, catalog: catalog, now: now)
                incident.ranking = ranking
                guard let chosen else { return unhandled(incident, "route \(index + 1): \(reason ?? "no candidate can be planned")") }
                incident.playbook = chosen
            }
        } else if catalog.playbook(id: alertname) != nil {
            incident.handling = .alertname
            incident.playbook = alertname
        } else {
            return unhandled(incident, "no route matches the alert's labels and no playbook has the id '\(alertname)' (its alertname)")
        }
        // Planned now, so a playbook that cannot take these inputs is recorded as unhandled
        // with the planner's reason rather than failing later in the background.
        let plan: Plan
        do {
            plan = try self.plan(incident, catalog: catalog)
        } catch {
            return unhandled(incident, "playbook '\(incident.playbook ?? "")' cannot be planned: \(Self.describe(error))")
        }
        guard let group = Self.group(of: incident) else { return await claimRun(incident, plan: plan, now: now) }
        var lead = await groups.lead(of: group, store: store)
        while true {
            if let current = lead, current.key == key {
                // A repeat of the lead's alert, perhaps while its first post is being opened: the
                // same run, so that whichever post opens the incident, the group has that run.
                incident.runID = current.runID
                if current.folded {
                    incident.foldedInto = current.runID
                    incident.reason = "one fault with run \(current.runID), going for \(RemediationsGoing.remedy(of: plan)): folded into it"
                }
                return incident
            }
            if let current = lead {
                // A lead not stored yet is being opened by a concurrent post: it is firing.
                let stored = try? await store.incident(key: current.key)
                if stored?.status != .resolved {
                    incident.runID = current.runID
                    incident.foldedInto = current.runID
                    incident.reason = "alert group \(incident.groupKey): folded into run \(current.runID) of incident \(current.key), "
                        + "for the same playbook and target"
                    return incident
                }
            }
            // This alert leads the group (it is the first, a repeat of the lead, or the lead was resolved).
            let claimed = await claimRun(incident, plan: plan, now: now)
            guard let runID = claimed.runID else { return claimed }
            let claim = AlertGroupLead(key: key, runID: runID, folded: claimed.foldedInto != nil)
            let other: AlertGroupLead?
            do {
                other = try await groups.claim(group, lead: claim, replacing: lead)
            } catch {
                // The group's lead cannot be known: no incident is opened (the post is answered
                // 503 and retried), and the run claimed for it is given back.
                if claimed.foldedInto == nil { going.release(runID: runID) }
                throw error
            }
            guard let other else { return claimed }
            // The alert that claimed the group meanwhile folded into the run this one claimed (it
            // found it going): the run is this incident's to start, or no one would start it.
            if claimed.foldedInto == nil, other.runID == runID { return claimed }
            // Another alert of the group claimed it meanwhile: decide again against that lead.
            if claimed.foldedInto == nil { going.release(runID: runID) }
            lead = other
        }
    }

    /// The run of a handled incident: the run going for the same playbook on the same targets
    /// (folded into it), else a new run claimed for it.
    private func claimRun(_ incident: AlertIncident, plan: Plan, now: Date) async -> AlertIncident {
        var incident = incident
        let runID = RunStore.newRunID(at: now)
        var found = going.claim(plan, runID: runID, owner: incident.key, elsewhereToo: stillGoingElsewhere != nil)
        // A run seen going on another server may have ended since: folded into it, this alert
        // would get no remediation at all. Asked of the store; ended, this alert claims its own.
        if let other = found, going.isElsewhere(other), let stillGoingElsewhere, await !stillGoingElsewhere(other) {
            going.forgetElsewhere(other)
            found = going.claim(plan, runID: runID, owner: incident.key)
        }
        if let going = found {
            incident.runID = going
            incident.foldedInto = going
            incident.reason = "one fault with run \(going), going for \(RemediationsGoing.remedy(of: plan)): folded into it"
            return incident
        }
        incident.runID = runID
        return incident
    }

    static func group(of incident: AlertIncident) -> String? {
        AlertGroups.group(groupKey: incident.groupKey, playbook: incident.playbook, target: incident.target)
    }

    /// The ungated plan of a handled incident.
    public func plan(_ incident: AlertIncident, catalog: Catalog? = nil) throws -> Plan {
        let stage = PlanStage(catalog: catalog ?? self.catalog)
        let playbook = try stage.playbook(.id(incident.playbook ?? ""))
        return try stage.run(PlanRequest(playbook: playbook, parameters: incident.parameters,
                                         targets: incident.target.map { [TargetSpec(name: $0)] }))
    }

    private func unhandled(_ incident: AlertIncident, _ reason: String) -> AlertIncident {
        var incident = incident
        incident.handling = .unhandled
        incident.reason = reason
        incident.runID = nil
        return incident
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case PlanStage.Failure.invalid(let planError): "\(planError)"
        case PlanStage.Failure.unknownPlaybook(let id, _): "no playbook has the id '\(id)'"
        case PlanStage.Failure.noSuchFile(let path): "no such file: \(path)"
        default: "\(error)"
        }
    }
}
