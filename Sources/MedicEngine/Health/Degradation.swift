import Foundation
import MedicModel

/// The degradation level of each system (a component of the health checks), following its
/// health with hysteresis: a worse level is taken at once; a better one only once health has
/// called for it without a break for `recoverAfter` seconds, and then one level at a time (each
/// step holds again), so a flapping check does not flap what Medic does.
public struct DegradationLevels: Sendable, Hashable, Codable {
    public struct SystemLevel: Sendable, Hashable, Codable {
        public var level: DegradationLevel
        /// Since when it has this level.
        public var since: Date
        /// Since when health has called for a better level without a break (nil: it has not).
        public var betterSince: Date?

        enum CodingKeys: String, CodingKey {
            case level, since
            case betterSince = "better_since"
        }
    }

    /// A change of one system's level.
    public struct Change: Sendable, Hashable {
        public var system: String
        public var from: DegradationLevel
        public var to: DegradationLevel

        public init(system: String, from: DegradationLevel, to: DegradationLevel) {
            self.system = system
            self.from = from
            self.to = to
        }
    }

    public var systems: [String: SystemLevel] = [:]

    public init() {}

    public func level(of system: String) -> DegradationLevel { systems[system]?.level ?? .full }

    /// Health calls for `called` now: the level moves (or not) by the rule above.
    @discardableResult
    public mutating func update(system: String, called: DegradationLevel, now: Date, recoverAfter: Double) -> Change? {
        var entry = systems[system] ?? SystemLevel(level: .full, since: now)
        let from = entry.level
        if called > entry.level {
            entry = SystemLevel(level: called, since: now)
        } else if called == entry.level {
            entry.betterSince = nil
        } else if let betterSince = entry.betterSince {
            if now.timeIntervalSince(betterSince) >= recoverAfter {
                let up = DegradationLevel.allCases[entry.level.rank - 1]
                entry = SystemLevel(level: up, since: now, betterSince: up > called ? now : nil)
            }
        } else {
            entry.betterSince = now
        }
        systems[system] = entry
        return entry.level == from ? nil : Change(system: system, from: from, to: entry.level)
    }
}

/// A level set by a person, for one system or (`system` nil) for all; it stands until cleared.
public struct DegradationOverride: Sendable, Hashable, Codable {
    public var system: String?
    public var level: DegradationLevel
    public var by: String
    public var reason: String?
    public var at: String

    public init(system: String?, level: DegradationLevel, by: String, reason: String?, at: String) {
        self.system = system
        self.level = level
        self.by = by
        self.reason = reason
        self.at = at
    }
}

/// Which features are on at a level: a feature is on below its `offFrom` level, and only while
/// every feature it depends on is on (a cycle of dependencies is off).
public enum DegradationFeatures {
    public static func on(_ features: [DegradationFeature], at level: DegradationLevel) -> [String: Bool] {
        let byName = Dictionary(features.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var decided: [String: Bool] = [:]
        func decide(_ name: String, visiting: Set<String>) -> Bool {
            if let known = decided[name] { return known }
            guard let feature = byName[name], !visiting.contains(name) else { return false }
            let on = level < feature.offFrom && feature.dependsOn.allSatisfy { decide($0, visiting: visiting.union([name])) }
            decided[name] = on
            return on
        }
        for feature in features { _ = decide(feature.name, visiting: []) }
        return decided
    }
}
