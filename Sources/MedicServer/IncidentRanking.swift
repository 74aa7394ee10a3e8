import Foundation
import MedicDetect
import MedicEngine
import MedicKnowledge
import MedicModel
import MedicText

/// How the playbook of an incident routed to candidates (a route's `playbooks:`) was chosen:
/// each candidate with its place, its score and why, and those that could not be ranked. Fixed
/// in the incident when it opens, with the playbook chosen, so a restart carries out the same
/// decision and people see the reasons (`GET /api/v1/incidents/{key}`).
public struct IncidentRanking: Sendable, Equatable, Codable {
    public struct Candidate: Sendable, Equatable, Codable {
        /// 1 for the playbook chosen.
        public var rank: Int
        public var playbook: String
        /// The weighted mean of the parts, in [0, 1].
        public var score: Double
        /// Proposed by the immune memory (it cured this fault before): first whatever its score.
        public var remembered: Bool
        /// The score in words: each criterion's part and where its value came from.
        public var why: String
        public var parts: [ScorePart]
    }

    /// A candidate left out: not in the library, or not plannable with the incident's inputs.
    public struct Skipped: Sendable, Equatable, Codable {
        public var playbook: String
        public var reason: String
    }

    /// The playbook that runs (nil: no candidate could be planned, the incident is unhandled).
    public var chosen: String?
    /// When the ranking was made (RFC 3339): the knowledge base as it was then decided it.
    public var rankedAt: String
    public var candidates: [Candidate]
    public var skipped: [Skipped]

    enum CodingKeys: String, CodingKey {
        case chosen, candidates, skipped
        case rankedAt = "ranked_at"
    }
}

extension IncidentRanking {
    init(_ selection: PlaybookSelection, chosen: String?, at: String) {
        self.chosen = chosen
        rankedAt = at
        candidates = selection.ranking.map { ranked in
            let parts = ranked.parts.map { "\($0.criterion) \(Self.figure($0.score)) x \(Self.figure($0.weight)) (\($0.basis))" }
            let why = (ranked.remembered ? ["proposed by the immune memory for this fault"] : []) + parts
            return Candidate(rank: ranked.rank, playbook: ranked.playbookID, score: ranked.score, remembered: ranked.remembered,
                             why: why.joined(separator: "; "), parts: ranked.parts)
        }
        skipped = selection.skipped.map { Skipped(playbook: $0.playbookID, reason: $0.reason) }
    }

    private static func figure(_ value: Double) -> String { String(format: "%.2f", value) }
}

/// Ranks a route's candidates for an alert with the engine's playbook selection, as `medic
/// watch` ranks a rule's: the knowledge base's history of each candidate (success rate, time,
/// recency), the blast radius, and the immune memory's cure for the fault first. The memory is
/// only read here (an alert's post does not decay it).
public struct CandidateRanker: Sendable {
    public let knowledge: KnowledgeStores
    /// Followed from one ranking to the next (the knowledge base is read incrementally).
    public let history: PlaybookHistory

    public init(knowledge: KnowledgeStores) {
        self.knowledge = knowledge
        history = PlaybookHistory(store: knowledge.records)
    }

    /// The alert incident as the engine's incident: the fault the immune memory is consulted
    /// about here, and taught about by the alert's run (`IncidentRunner.detection`).
    /// The fault's severity as the ranking and the run's detection take it: the alert's
    /// `severity` label (else SEV2), raised by its impact. Not the playbook's: the fault is the
    /// same whichever candidate is chosen.
    static func faultSeverity(of incident: AlertIncident) -> Severity {
        max(incident.labels["severity"].flatMap(Severity.init(text:)) ?? .sev2, incident.impact ?? .info)
    }

    static func fault(_ incident: AlertIncident, candidates: [String], severity: Severity, now: Date) -> Incident {
        let alertname = incident.labels["alertname"] ?? ""
        return Incident.external(rule: "alertmanager:" + alertname, incidentKey: incident.key, metric: alertname, labels: incident.labels,
                                 severity: severity, playbooks: candidates, parameters: incident.parameters, at: now.timeIntervalSince1970)
    }

    /// The playbook chosen among `candidates` for the alert incident `incident` (its labels,
    /// parameters and target already taken from the route), with the ranking; a nil playbook
    /// with the reason when none can be planned.
    func rank(_ incident: AlertIncident, candidates: [String], severity: Severity, catalog: Catalog, now: Date)
        -> (playbook: String?, ranking: IncidentRanking, reason: String?) {
        var selector = PlaybookSelector(catalog: catalog, knowledge: knowledge, history: history)
        selector.persistMemory = false
        selector.addsRememberedPlaybooks = false
        let fault = Self.fault(incident, candidates: candidates, severity: severity, now: now)
        let at = (Timestamp(now) ?? Timestamp(seconds: 0)).rfc3339()
        switch selector.select(fault, targets: incident.target.map { [TargetSpec(name: $0)] }, now: now).outcome {
        case .chosen(let plan):
            let selection = plan.selection.map { IncidentRanking($0, chosen: plan.playbookID, at: at) }
            return (plan.playbookID, selection ?? IncidentRanking(chosen: plan.playbookID, rankedAt: at, candidates: [], skipped: []), nil)
        case .unmatched(let selection, let reason):
            return (nil, IncidentRanking(selection, chosen: nil, at: at), reason)
        }
    }
}
