import MedicModel

/// Where a rule of the engine comes from.
public enum RuleOrigin: String, Sendable, Hashable, Codable {
    /// An anomaly rule of a rules file.
    case rule
    /// A playbook's `trigger: {condition, duration}`.
    case trigger
}

/// A rule or trigger the engine could not take, and why; the engine runs without it.
public struct RuleRejection: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rule: String
    public var reason: String
    public var location: SourceLocation

    public init(rule: String, reason: String, location: SourceLocation) {
        self.rule = rule
        self.reason = reason
        self.location = location
    }

    /// `file:line:col: rule NAME: reason`.
    public var description: String {
        let place = location.file.isEmpty ? "" : "\(location): "
        return "\(place)rule \(rule): \(reason)"
    }
}

/// What one rule has seen and done so far: counters kept by the engine as it goes, for a
/// backtest's summary and for `medic watch`'s metrics.
public struct RuleStatistics: Sendable, Hashable, Codable {
    public var rule: String
    public var origin: RuleOrigin
    public var severity: Severity
    public var playbook: String?
    /// Samples selected by the rule (its metric and label matchers), ignored ones included.
    public var samples = 0
    /// Selected samples the detectors ignore: a NaN or infinite value or time, a time older than
    /// the series' last (out of order) or equal to it (a duplicate).
    public var ignoredSamples = 0
    /// Series the rule keeps state for.
    public var series = 0
    /// Samples of new series refused because the rule already had
    /// `Configuration.maxSeriesPerRule` series.
    public var droppedSamples = 0
    /// Series forgotten to make room: quiet for `Configuration.idleSeriesAfter`, not pending or firing.
    public var forgottenSeries = 0
    /// Times a series became pending.
    public var pending = 0
    /// Incidents opened (`.firing` events).
    public var incidents = 0
    /// Firings folded into an active incident of their key.
    public var foldedFirings = 0
    /// Firings suppressed because their key was cooling down.
    public var suppressedByCooldown = 0
    /// Incidents resolved.
    public var resolved = 0

    public init(rule: String, origin: RuleOrigin, severity: Severity, playbook: String?) {
        self.rule = rule
        self.origin = origin
        self.severity = severity
        self.playbook = playbook
    }
}
