import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// The `resilience:` section of `medic serve --config` (docs/resilience.md, "Configuration"):
/// the limits of the guards, per kind of destination and per key, over Medic's defaults.
///
/// ```yaml
/// resilience:
///   http: {failure_threshold: 3, reset_timeout: 1m, max_concurrent: 8}
///   shell: {adaptive: {failure_threshold: [3, 20], reset_timeout: [5s, 2m]}}
///   channel: {retry_attempts: 5, timeout: 10s}
///   keys:
///     "http:10.0.0.5:8080": {failure_threshold: 1, half_open_trials: 2}
/// ```
public enum ResilienceConfiguration {
    static let key = "resilience"
    static let limitKeys: Set<String> = ["max_concurrent", "max_queued", "failure_threshold", "success_threshold", "reset_timeout",
                                         "half_open_trials", "timeout", "retry_attempts", "retry_initial", "retry_max", "adaptive"]

    /// The `resilience:` section of the file at `path` (its other keys are not read, so a
    /// serve configuration may be given), for `medic run`, `resume`, `demo` and `watch`
    /// (`--resilience FILE`); nil with the errors when it has any.
    public static func load(path: String) -> (ResilienceSettings?, [Diagnostic]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return (nil, [Diagnostic(.fileUnreadable, "cannot read the resilience file", at: SourceLocation(file: path, line: 1, column: 1),
                                     hint: "check the path given to --resilience")])
        }
        let (root, read) = DocumentReader().read(bytes: Array(data), path: path)
        guard let root, !read.hasErrors else { return (nil, read) }
        guard let pairs = root.mapping, pairs.contains(where: { $0.key == key }) else {
            return (nil, read + [Diagnostic(.missingKey, "the file has no 'resilience' section", at: root.location,
                                            hint: "write 'resilience:' then the limits per kind, such as 'http: {failure_threshold: 3}' (docs/resilience.md)")])
        }
        let (settings, diagnostics) = decode(pairs)
        return (diagnostics.hasErrors ? nil : settings, read + diagnostics)
    }

    /// Reads the section from the configuration's top-level `pairs` (none: the defaults).
    static func decode(_ pairs: [SourceNode.Pair]) -> (ResilienceSettings, [Diagnostic]) {
        var reader = EscalationSettings.Reader()
        var settings = ResilienceSettings()
        guard let section = pairs.first(where: { $0.key == key })?.value,
              let items = reader.mapping(section, "'resilience'", known: Set(GuardKind.allCases.map(\.rawValue)).union(["keys"])) else {
            return (settings, reader.diagnostics)
        }
        for item in items {
            if item.key == "keys" {
                guard let keys = reader.mapping(item.value, "'resilience.keys'", known: nil) else { continue }
                for pair in keys {
                    guard let kind = GuardKind(key: pair.key) else {
                        report(&reader, .unknownKey, "'\(pair.key)' is not a guard's key", pair.keyNode,
                               hint: "write KIND:DESTINATION with KIND one of " + GuardKind.allCases.map(\.rawValue).joined(separator: ", ")
                                   + " (such as http:10.0.0.5:8080)")
                        continue
                    }
                    if let limits = limits(pair.value, kind: kind, what: "resilience.keys.\(pair.key)", reader: &reader) { settings.keys[pair.key] = limits }
                }
            } else if let kind = GuardKind(rawValue: item.key),
                      let limits = limits(item.value, kind: kind, what: "resilience.\(item.key)", reader: &reader) {
                settings.kinds[kind] = limits
            }
        }
        return (settings, reader.diagnostics)
    }

    static func limits(_ node: SourceNode, kind: GuardKind, what: String, reader: inout EscalationSettings.Reader) -> GuardLimits? {
        guard let pairs = reader.mapping(node, "'\(what)'", known: limitKeys) else { return nil }
        var limits = GuardLimits()
        var valid = true
        for pair in pairs {
            let place = "'\(pair.key)' of '\(what)'"
            switch pair.key {
            case _ where kind.isStep && ["timeout", "retry_attempts", "retry_initial", "retry_max"].contains(pair.key):
                report(&reader, .unknownKey, "\(place) is not allowed: a step's guard never retries it and has no timeout of its own",
                       pair.keyNode, hint: "set the step's own `timeout` and `retry` in the playbook: they are journaled, under the step's idempotency rules")
                valid = false
            case "adaptive":
                guard let adaptation = AdaptiveLimitsConfiguration.decode(pair.value, what: "\(what).adaptive", reader: &reader) else {
                    valid = false
                    continue
                }
                limits.adaptation = adaptation
            case "max_concurrent", "max_queued", "failure_threshold", "success_threshold", "half_open_trials", "retry_attempts":
                let least = pair.key == "max_queued" ? 0 : 1
                guard let text = pair.value.scalar?.text, let number = Int(text), number >= least, number <= 100_000 else {
                    report(&reader, .invalidValue, "\(place) must be a whole number from \(least) to 100000", pair.value,
                           hint: "write a number such as \(pair.key == "max_queued" ? 16 : 5)")
                    valid = false
                    continue
                }
                switch pair.key {
                case "max_concurrent": limits.maxConcurrent = number
                case "max_queued": limits.maxQueued = number
                case "failure_threshold": limits.failureThreshold = number
                case "success_threshold": limits.successThreshold = number
                case "half_open_trials": limits.halfOpenTrials = number
                default: limits.retryAttempts = number
                }
            default:
                guard let text = reader.string(pair.value, place) else {
                    valid = false
                    continue
                }
                switch Interval.parse(text) {
                case .success(let interval) where interval.seconds > 0 && interval.seconds <= 86_400:
                    switch pair.key {
                    case "reset_timeout": limits.resetTimeout = interval.seconds
                    case "timeout": limits.timeout = interval.seconds
                    case "retry_initial": limits.retryInitial = interval.seconds
                    default: limits.retryMax = interval.seconds
                    }
                case .success:
                    report(&reader, .invalidValue, "\(place) must be above 0 and at most 24h", pair.value, hint: "write a duration such as 30s or 5m")
                    valid = false
                case .failure(let error):
                    report(&reader, .invalidValue, "\(place): \(error.message)", pair.value, hint: "write a duration such as 30s or 5m")
                    valid = false
                }
            }
        }
        return valid ? limits : nil
    }

    static func report(_ reader: inout EscalationSettings.Reader, _ code: DiagnosticCode, _ message: String, _ node: SourceNode, hint: String) {
        reader.diagnostics.append(Diagnostic(code, message, at: node.location, hint: hint))
    }
}
