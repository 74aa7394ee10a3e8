import Foundation
import MedicDetect
import MedicKnowledge
import MedicModel

/// How a playbook was chosen for an incident (reference §6.1 step 5, §6.2): the candidates, each
/// one's score and its parts, what the immune memory remembered, the candidates dropped and why.
/// Carried by the plan (`Plan.selection`), so `medic plan --incident`, `medic watch --dry-run`
/// and the run's journal all show it.
public struct PlaybookSelection: Sendable, Hashable, Codable {
    /// The immune memory's entry for this fault (seed-systems §1).
    public struct Remembered: Sendable, Hashable, Codable {
        public var signatureID: String
        /// `exact`, `components` (same fault type, ≥ 60% of the components) or `pattern_prefix`.
        public var match: String
        public var successRate: Double
        public var observations: Int
        /// The playbooks of its actions, in priority order.
        public var playbooks: [String]
    }

    /// A candidate that could not be ranked: not in the library, or not plannable with the
    /// incident's parameters.
    public struct Skipped: Sendable, Hashable, Codable {
        public var playbookID: String
        public var reason: String
    }

    public var rule: String
    public var incidentKey: String
    /// The fault as the immune memory knows it.
    public var signature: IncidentFault
    /// How far the incident reaches (from the targets a remediation would touch).
    public var incidentRadius: BlastRadius
    public var weights: PlaybookSelectionPolicy
    public var remembered: Remembered?
    public var ranking: [RankedPlaybook]
    public var skipped: [Skipped]
}

/// A fault signature as the journal and `medic plan --json` write it (their keys are converted
/// to snake_case, which `FaultSignature`'s own document keys are already).
public struct IncidentFault: Sendable, Hashable, Codable {
    public var faultType: String
    public var components: [String]
    public var pattern: String
    /// The signature's id (SHA-256), for reading; recomputed from the fields when used.
    public var id: String

    public init(_ signature: FaultSignature) {
        faultType = signature.faultType
        components = signature.components
        pattern = signature.pattern
        id = signature.id
    }

    public var signature: FaultSignature { FaultSignature(faultType: faultType, components: components, pattern: pattern) }
}

extension FaultSignature {
    /// The fault an incident is, for the immune memory: fault type the rule's name (a playbook
    /// trigger's is `trigger:<id>`); components the series' labels as `label=value`, sorted
    /// (two incidents on different instances of one job share the others); pattern
    /// `<metric>:<severity>` (so the pattern prefix is the metric).
    public init(incident: Incident) {
        let components = incident.labels.filter { $0.key != "__name__" }.map { "\($0.key)=\($0.value)" }
        self.init(faultType: incident.rule, components: components,
                  pattern: "\(incident.metric):\(incident.severity.description.lowercased())")
    }
}

/// Chooses the playbook for an incident: the rule's playbooks (`playbook: [a, b]`) and those the
/// immune memory remembers for the fault, planned with the incident's parameters, ranked by the
/// knowledge base (`PlaybookRanker`). The remembered remediation is proposed first; gates still
/// decide whether it runs.
public struct PlaybookSelector: Sendable {
    public enum Outcome: Sendable {
        /// The plan of the chosen playbook, with `selection` set.
        case chosen(Plan)
        /// No candidate could be planned: the incident is for people.
        case unmatched(PlaybookSelection, reason: String)
    }

    public let catalog: Catalog
    /// The immune memory consulted, and the knowledge base whose history ranks the candidates.
    public let knowledge: KnowledgeStores
    /// The incident history of `knowledge.records`, followed from one selection to the next.
    public let history: PlaybookHistory
    public var memoryCapacity = ImmuneMemory.defaultCapacity
    /// Save the memory's decay when consulting it (a real incident); a dry run only reads.
    public var persistMemory = true
    /// Add the playbooks the memory remembers for the fault to the incident's own (a rule's
    /// incident); false: only rank the incident's own (an alert's route names its candidates,
    /// and a cure remembered from another route must not run in its place).
    public var addsRememberedPlaybooks = true

    public init(catalog: Catalog, knowledge: KnowledgeStores, history: PlaybookHistory? = nil) {
        self.catalog = catalog
        self.knowledge = knowledge
        self.history = history ?? PlaybookHistory(store: knowledge.records)
    }

    /// The selector of the state directory's file-backed knowledge stores
    /// (`StateStores.knowledge(in:immuneMemoryCache:)`), the memory kept in `memoryCache` while
    /// its document is unchanged.
    public init(catalog: Catalog, stateDirectory: String, history: PlaybookHistory? = nil, memoryCache: ImmuneMemoryCache = ImmuneMemoryCache()) {
        self.init(catalog: catalog, knowledge: StateStores.knowledge(in: stateDirectory, immuneMemoryCache: memoryCache), history: history)
    }

    /// Selects for `incident`; `targets` replace the playbooks' own (as `--target` does). Returns
    /// the outcome, the memory's changes to publish (decay), and problems met on the way (an
    /// unreadable memory: ranking goes on without it).
    public func select(_ incident: Incident, targets: [TargetSpec]? = nil, now: Date)
        -> (outcome: Outcome, memoryChanges: [ImmuneMemoryChange], problems: [String]) {
        let signature = FaultSignature(incident: incident)
        var problems: [String] = []
        var changes: [ImmuneMemoryChange] = []
        var remembered: PlaybookSelection.Remembered?
        do {
            let (match, found) = try consultMemory(signature, now: now)
            changes = found
            if let match {
                let playbooks = match.entry.actions.sorted { ($0.priority, $0.playbookID) < ($1.priority, $1.playbookID) }
                    .map(\.playbookID).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
                let kind: String
                switch match.kind {
                case .exact: kind = "exact"
                case .componentOverlap: kind = "components"
                case .patternPrefix: kind = "pattern_prefix"
                }
                remembered = .init(signatureID: match.entry.id, match: kind, successRate: match.entry.successRate,
                                   observations: match.entry.observations, playbooks: playbooks)
            }
        } catch {
            problems.append("the immune memory was not consulted: \(error)")
        }

        var ids = incident.playbooks
        for id in remembered?.playbooks ?? [] where addsRememberedPlaybooks && !ids.contains(id) { ids.append(id) }
        let rememberedIDs = Set(remembered?.playbooks ?? [])
        var plans: [(Playbook, Plan)] = []
        var skipped: [PlaybookSelection.Skipped] = []
        for id in ids {
            guard let playbook = catalog.playbook(id: id) else {
                skipped.append(.init(playbookID: id, reason: "not in the library"))
                continue
            }
            do {
                plans.append((playbook, try Planner(catalog: catalog).plan(playbook, values: incident.parameters, targets: targets)))
            } catch {
                skipped.append(.init(playbookID: id, reason: "cannot be planned for this incident: \(error)"))
            }
        }
        let radius = Self.reach(of: plans.map(\.1))
        history.refresh()
        let policy = catalog.policies.playbookSelection ?? .reference
        let ranking = PlaybookRanker.rank(
            plans.map { playbook, _ in
                RankingCandidate(playbookID: playbook.id, blastRadius: playbook.safety.blastRadius,
                                 declaredSuccessRate: playbook.metadata.successRate,
                                 declaredExecutionTime: playbook.metadata.avgExecutionTime?.seconds,
                                 remembered: rememberedIDs.contains(playbook.id))
            },
            records: { history.record(for: $0) }, incidentRadius: radius, policy: policy, now: now)
        let selection = PlaybookSelection(rule: incident.rule, incidentKey: incident.incidentKey, signature: IncidentFault(signature),
                                          incidentRadius: radius, weights: policy, remembered: remembered, ranking: ranking,
                                          skipped: skipped)
        guard let first = ranking.first, var plan = plans.first(where: { $0.0.id == first.playbookID })?.1 else {
            let reason: String
            if ids.isEmpty {
                reason = "rule '\(incident.rule)' names no playbook and the immune memory knows no cure for this fault"
            } else {
                reason = "no applicable remediation playbook: " + skipped.map { "\($0.playbookID) \($0.reason)" }.joined(separator: "; ")
            }
            return (.unmatched(selection, reason: reason), changes, problems)
        }
        plan.selection = selection
        return (.chosen(plan), changes, problems)
    }

    /// An empty memory (never saved) has nothing to match and nothing to decay: it is only read,
    /// so consulting it writes nothing.
    private func consultMemory(_ signature: FaultSignature, now: Date) throws -> (ImmuneMemory.Match?, [ImmuneMemoryChange]) {
        var memory = try knowledge.immuneMemory.read(capacity: memoryCapacity, at: now)
        guard memory.count > 0 else { return (nil, []) }
        if persistMemory {
            return try knowledge.immuneMemory.update(capacity: memoryCapacity, at: now) { memory in
                memory.match(signature, at: now)
            }
        }
        return (memory.match(signature, at: now).match, [])
    }

    /// The incident's reach: the level §7.2's counts give for every target the candidates would
    /// touch (none: one instance), not raised to any playbook's declared level.
    static func reach(of plans: [Plan]) -> BlastRadius {
        var seen = Set<String>()
        var targets: [TargetSpec] = []
        for plan in plans { for target in plan.targets where seen.insert(target.name).inserted { targets.append(target) } }
        return BlastRadiusEstimate.computedLevel(targets: targets)
    }
}
