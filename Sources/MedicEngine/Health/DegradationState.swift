import Foundation
import MedicModel

/// The degradation of the systems, as every process sharing a state directory sees it:
/// `<state>/degradation/levels.json`, written by the health monitor (the levels health calls
/// for, and the features of its health checks file), and `<state>/degradation/override.json`,
/// written by `medic degrade` (levels set by a person). The severity_policy gate reads both.
public struct DegradationState: Sendable, Hashable, Codable {
    public var levels = DegradationLevels()
    public var features = DegradationFeature.builtIn
    public var recoverAfter: Double = 120

    public init() {}

    enum CodingKeys: String, CodingKey {
        case levels, features
        case recoverAfter = "recover_after"
    }

    public static func folder(_ stateDirectory: String) -> String { (stateDirectory as NSString).appendingPathComponent("degradation") }
    static func levelsPath(_ stateDirectory: String) -> String { folder(stateDirectory) + "/levels.json" }
    static func overridePath(_ stateDirectory: String) -> String { folder(stateDirectory) + "/override.json" }

    /// What the monitor last wrote; the defaults (every system full) when nothing or nothing readable.
    public static func load(_ stateDirectory: String) -> DegradationState {
        guard let data = FileManager.default.contents(atPath: levelsPath(stateDirectory)),
              let state = try? JSONDecoder().decode(DegradationState.self, from: data) else { return DegradationState() }
        return state
    }

    public func save(_ stateDirectory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try StateFiles.writeAtomically(try encoder.encode(self), to: Self.levelsPath(stateDirectory))
    }

    /// The overrides in force, by system (`*` for all systems).
    public static func overrides(_ stateDirectory: String) -> [String: DegradationOverride] {
        guard let data = FileManager.default.contents(atPath: overridePath(stateDirectory)),
              let overrides = try? JSONDecoder().decode([String: DegradationOverride].self, from: data) else { return [:] }
        return overrides
    }

    /// Sets (or with `level` nil clears) the override of `system` (nil: all systems).
    public static func setOverride(_ stateDirectory: String, system: String?, to value: DegradationOverride?) throws {
        var all = overrides(stateDirectory)
        all[system ?? "*"] = value
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try StateFiles.writeAtomically(try encoder.encode(all), to: overridePath(stateDirectory))
    }

    /// One system's level in force and where it comes from: a person's override of that system,
    /// else one of all systems, else health.
    public struct Effective: Sendable, Hashable, Codable {
        public var system: String
        public var level: DegradationLevel
        /// `health` or `override`.
        public var source: String
        public var since: String?
        public var by: String?
        public var reason: String?
    }

    public func effective(_ system: String, overrides: [String: DegradationOverride]) -> Effective {
        if let manual = overrides[system] ?? overrides["*"] {
            return Effective(system: system, level: manual.level, source: "override", since: manual.at, by: manual.by, reason: manual.reason)
        }
        let own = levels.systems[system]
        return Effective(system: system, level: own?.level ?? .full, source: "health", since: own.map { JournalRecord.timestamp($0.since) })
    }

    /// Every system known to the monitor or to an override, with its level in force, sorted.
    public func effectiveAll(overrides: [String: DegradationOverride]) -> [Effective] {
        Set(levels.systems.keys).union(overrides.keys.filter { $0 != "*" }).sorted().map { effective($0, overrides: overrides) }
    }

    /// Why an automated run of `plan` may not start now, or nil when it may. The run is held to
    /// the level of the systems its targets' `service` labels name, else to the most degraded
    /// system: with `automated_remediation` off no automated run starts; with
    /// `automated_remediation_noncritical` off only SEV0 ones do; a feature of the file that is
    /// off stops the automated runs of the playbooks it lists.
    public static func suspension(for plan: Plan, stateDirectory: String) -> String? {
        // Every automated run asks: one system call when nothing was ever degraded here.
        guard access(folder(stateDirectory), F_OK) == 0 else { return nil }
        let state = load(stateDirectory)
        let overrides = overrides(stateDirectory)
        let all = state.effectiveAll(overrides: overrides)
        let services = Set(plan.targets.compactMap { $0.labels["service"] })
        var relevant = all.filter { services.contains($0.system) }
        if relevant.isEmpty { relevant = all }
        if relevant.isEmpty, let everything = overrides["*"] {
            relevant = [Effective(system: "*", level: everything.level, source: "override", since: everything.at, by: everything.by,
                                  reason: everything.reason)]
        }
        guard let worst = relevant.max(by: { $0.level < $1.level }), worst.level > .full else { return nil }
        let on = DegradationFeatures.on(state.features, at: worst.level)
        var why = "degradation level \(worst.level.rawValue) (system \(worst.system), "
            + (worst.source == "override" ? "set by \(worst.by ?? "?")\(worst.reason.map { ": \($0)" } ?? "")" : "from its health")
            + (worst.since.map { " since \($0)" } ?? "") + ")"
        if on["automated_remediation"] == false {
            why += ": automated remediation is suspended (feature automated_remediation is off)"
            return why
        }
        if on["automated_remediation_noncritical"] == false && plan.severity != .sev0 {
            return why + ": automated remediation of \(plan.severity) is suspended, only critical (SEV0) runs start "
                + "(feature automated_remediation_noncritical is off)"
        }
        if let feature = state.features.first(where: { on[$0.name] == false && $0.playbooks.contains(plan.playbookID) }) {
            return why + ": feature \(feature.name), which \(plan.playbookID) needs, is off"
        }
        return nil
    }
}
