import Foundation

/// Learned remediation (seed-systems §1): faults seen before, each with the actions that cured
/// it and how well they work. A value: every change returns `ImmuneMemoryChange` events for the
/// caller to publish; time is always passed in (`at:`), never read from the wall clock.
/// Persisted by `ImmuneMemoryDocument`. The rules are in docs/knowledge.md, "Immune memory".
public struct ImmuneMemory: Sendable, Equatable {
    public static let defaultCapacity = 10_000
    /// Weight of the newest outcome in the success rate: rate = α·outcome + (1 − α)·rate.
    public static let emaAlpha = 0.3
    /// An entry not applied for this long has its success rate halved when next consulted.
    public static let decayInterval: TimeInterval = 90 * 86_400
    /// Fuzzy match by components: overlap at least 3/5 (60%), compared in integers.
    static let overlapThreshold = (numerator: 3, denominator: 5)

    /// At most this many entries; learning a new one beyond it evicts the least recently applied.
    public let capacity: Int
    private var byID: [String: ImmuneMemoryEntry]

    public init(capacity: Int = ImmuneMemory.defaultCapacity) {
        precondition(capacity > 0, "an immune memory holds at least one entry")
        self.capacity = capacity
        self.byID = [:]
    }

    /// A memory holding `entries` (as loaded); beyond `capacity`, the least recently applied
    /// are evicted, and reported.
    public static func holding(_ entries: [ImmuneMemoryEntry], capacity: Int = ImmuneMemory.defaultCapacity,
                               at now: Date) -> (memory: ImmuneMemory, changes: [ImmuneMemoryChange]) {
        var memory = ImmuneMemory(capacity: capacity)
        for entry in entries { memory.byID[entry.id] = entry }
        let changes = memory.evict(keeping: capacity, at: now)
        return (memory, changes)
    }

    public var count: Int { byID.count }

    /// Every entry, by signature id.
    public var entries: [ImmuneMemoryEntry] { byID.values.sorted { $0.id < $1.id } }

    /// The entry with signature id `id`, or with `id` as the unique prefix of its id. Reading does
    /// not consult (no decay).
    public func entry(id: String) -> ImmuneMemoryEntry? {
        if let exact = byID[id] { return exact }
        guard !id.isEmpty else { return nil }
        let found = byID.values.filter { $0.id.hasPrefix(id) }
        return found.count == 1 ? found[0] : nil
    }

    // MARK: - Matching

    /// How a signature matched an entry.
    public enum MatchKind: Sendable, Hashable {
        case exact
        /// Same fault type, components overlapping at least 60%.
        case componentOverlap(Double)
        /// Same fault type, same pattern prefix.
        case patternPrefix
    }

    public struct Match: Sendable, Equatable {
        public var entry: ImmuneMemoryEntry
        public var kind: MatchKind
    }

    /// Consults the memory for `signature`: the entry with its exact id; else, among the entries
    /// of the same fault type whose components overlap at least 60% or whose pattern prefix is
    /// the same, the one with the highest success rate (ties: more observations, then the most
    /// recently applied, then the smaller signature id). Every entry consulted (the exact one, or
    /// every fuzzy candidate) decays first when due, so the choice uses decayed rates; those
    /// changes are returned. Nil when nothing matches.
    public mutating func match(_ signature: FaultSignature, at now: Date) -> (match: Match?, changes: [ImmuneMemoryChange]) {
        if byID[signature.id] != nil {
            let change = decayIfDue(signature.id, at: now)
            return (Match(entry: byID[signature.id]!, kind: .exact), change.map { [$0] } ?? [])
        }
        let prefix = signature.patternPrefix
        var candidates: [Match] = []
        for entry in byID.values where entry.signature.faultType == signature.faultType {
            let threshold = Self.overlapThreshold
            if entry.signature.overlapReaches(threshold.numerator, of: threshold.denominator, with: signature) {
                candidates.append(Match(entry: entry, kind: .componentOverlap(entry.signature.componentOverlap(with: signature))))
            } else if let prefix, entry.signature.patternPrefix == prefix {
                candidates.append(Match(entry: entry, kind: .patternPrefix))
            }
        }
        var changes: [ImmuneMemoryChange] = []
        for index in candidates.indices {
            if let change = decayIfDue(candidates[index].entry.id, at: now) { changes.append(change) }
            candidates[index].entry = byID[candidates[index].entry.id]!
        }
        changes.sort { $0.signatureID < $1.signatureID }
        return (candidates.min { Self.ranksBefore($0.entry, $1.entry) }, changes)
    }

    /// The documented order of preference among fuzzy matches (deterministic).
    static func ranksBefore(_ a: ImmuneMemoryEntry, _ b: ImmuneMemoryEntry) -> Bool {
        if a.successRate != b.successRate { return a.successRate > b.successRate }
        if a.observations != b.observations { return a.observations > b.observations }
        if a.lastApplied != b.lastApplied { return a.lastApplied > b.lastApplied }
        return a.id < b.id
    }

    /// Halves the entry's success rate when it was neither applied nor decayed in the last 90
    /// days (so it halves once per 90 days of disuse, not at every consultation).
    private mutating func decayIfDue(_ id: String, at now: Date) -> ImmuneMemoryChange? {
        guard var entry = byID[id] else { return nil }
        let since = max(entry.lastApplied, entry.lastDecayed ?? entry.lastApplied)
        guard now.timeIntervalSince(since) >= Self.decayInterval else { return nil }
        entry.successRate /= 2
        entry.lastDecayed = now
        byID[id] = entry
        return ImmuneMemoryChange(kind: .decayed, signatureID: id, time: now, successRate: entry.successRate)
    }

    // MARK: - Learning

    /// Learns from one remediation (from a run or a chaos experiment alike). A success of an
    /// unknown signature creates an entry (success rate 1); a failure of an unknown one teaches
    /// nothing. A known signature counts one more observation, updates its success rate by the
    /// EMA (a failure too), is marked applied and seen now, and, on success, merges the actions.
    /// Creating an entry at capacity evicts the least recently applied first.
    public mutating func learn(_ outcome: RemediationOutcome, at now: Date) -> [ImmuneMemoryChange] {
        let id = outcome.signature.id
        guard var entry = byID[id] else {
            guard outcome.succeeded else { return [] }
            var changes = evict(keeping: capacity - 1, at: now)
            let entry = ImmuneMemoryEntry(
                signature: outcome.signature, actions: Self.merged([], outcome.actions), observations: 1, successRate: 1,
                firstSeen: now, lastSeen: now, lastApplied: now, lastDecayed: nil, origin: outcome.origin,
                lastOrigin: outcome.origin, lastOriginID: outcome.originID)
            byID[id] = entry
            changes.append(ImmuneMemoryChange(kind: .learned, signatureID: id, time: now, successRate: 1))
            return changes
        }
        entry.observations += 1
        entry.successRate = Self.emaAlpha * (outcome.succeeded ? 1 : 0) + (1 - Self.emaAlpha) * entry.successRate
        entry.lastSeen = max(entry.lastSeen, now)
        entry.lastApplied = max(entry.lastApplied, now)
        entry.lastOrigin = outcome.origin
        entry.lastOriginID = outcome.originID
        if outcome.succeeded { entry.actions = Self.merged(entry.actions, outcome.actions) }
        byID[id] = entry
        return [ImmuneMemoryChange(kind: .reinforced, signatureID: id, time: now, successRate: entry.successRate)]
    }

    /// `known` with `learned` merged in: an action is the same when its playbook id and action
    /// are; the newer one's priority and timeout replace the older's. Sorted by priority, then
    /// playbook id, then action.
    static func merged(_ known: [RemediationAction], _ learned: [RemediationAction]) -> [RemediationAction] {
        var byKey: [String: RemediationAction] = [:]
        for action in known + learned { byKey[action.playbookID + "\u{0}" + action.action] = action }
        return byKey.values.sorted {
            ($0.priority, $0.playbookID, $0.action) < ($1.priority, $1.playbookID, $1.action)
        }
    }

    // MARK: - Forgetting and bounds

    /// Removes the entry with signature id `id` (or its unique prefix); nil when there is none.
    public mutating func forget(id: String, at now: Date) -> ImmuneMemoryChange? {
        guard let entry = entry(id: id) else { return nil }
        byID[entry.id] = nil
        return ImmuneMemoryChange(kind: .forgotten, signatureID: entry.id, time: now)
    }

    /// Evicts least recently applied entries (ties: the smaller signature id) until at most `limit` remain.
    private mutating func evict(keeping limit: Int, at now: Date) -> [ImmuneMemoryChange] {
        guard byID.count > limit else { return [] }
        let oldest = byID.values.sorted { ($0.lastApplied, $0.id) < ($1.lastApplied, $1.id) }.prefix(byID.count - limit)
        return oldest.map { entry in
            byID[entry.id] = nil
            return ImmuneMemoryChange(kind: .evicted, signatureID: entry.id, time: now)
        }
    }
}
