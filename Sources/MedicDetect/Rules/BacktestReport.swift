import Foundation
import MedicModel

/// What `medic backtest` writes, built piece by piece so that a replay of any length streams:
/// `begin()`, then `incident(_:)` for each incident as it resolves (and for those still active
/// at the end), then `end(...)` with the per-rule summary.
///
/// Text: one block per incident —
/// ```
/// 2024-05-01T10:05:00Z  disk-filling  disk_usage_percent{host="a",path="/var"}
///   first seen 2024-05-01T10:00:00Z, resolved 2024-05-01T10:20:00Z
///   peak 97 (score 0.77), last 93, 1 firing, SEV2
///   playbook disk-space-cleanup-001 (paths=/var)
/// ```
/// then a summary line per rule. JSON: one document,
/// `{"incidents": [...], "rules": [...], "rejected": [...], "data": {...}}`.
public struct BacktestReport: Sendable {
    public enum Format: String, Sendable {
        case text, json
    }

    /// What was read from the data, for the summary.
    public struct DataSummary: Sendable, Hashable {
        /// The file (or `-` for standard input).
        public var source: String
        public var lines = 0
        public var samples = 0
        /// Lines that could not be read (skipped).
        public var skipped = 0
        /// The first of those, with their reasons.
        public var errors: [InputError] = []

        public init(source: String) { self.source = source }
    }

    public let format: Format
    private var written = 0

    public init(format: Format) { self.format = format }

    public func begin() -> String {
        format == .json ? "{\"incidents\":[" : ""
    }

    /// An incident: resolved (`resolvedAt` set) or still active when the data ended.
    public mutating func incident(_ incident: Incident) -> String {
        written += 1
        switch format {
        case .json: return (written > 1 ? ",\n" : "\n") + Self.encode(IncidentRecord(incident))
        case .text: return Self.text(incident)
        }
    }

    /// The summary; with `labels` (`medic backtest --labels`), the scores against the labelled
    /// windows after it (the document's `labels` member in JSON).
    public func end(statistics: [RuleStatistics], active: Int, rejected: [RuleRejection], data: DataSummary,
                    labels: (result: LabelledResult, rules: [String: AnomalyRule])? = nil) -> String {
        switch format {
        case .json:
            let rules = statistics.map(RuleRecord.init)
            let rejections = rejected.map { RejectionRecord(rule: $0.rule, reason: $0.reason, location: $0.location.description) }
            let dataRecord = DataRecord(source: data.source, lines: data.lines, samples: data.samples, skipped: data.skipped,
                                        errors: data.errors.map { ErrorRecord(line: $0.line, reason: $0.reason) })
            let labelled = labels.map { ",\n\"labels\":" + LabelledReport.json($0.result, rules: $0.rules) } ?? ""
            return "\n],\n\"rules\":\(Self.encode(rules)),\n\"rejected\":\(Self.encode(rejections)),\n\"data\":\(Self.encode(dataRecord))\(labelled)}\n"
        case .text:
            return Self.summary(statistics: statistics, active: active, data: data)
                + (labels.map { LabelledReport.text($0.result, rules: $0.rules) } ?? "")
        }
    }

    // MARK: Text

    static func text(_ i: Incident) -> String {
        var out = "\(TimestampText.rfc3339(i.firedAt))  \(i.rule)  \(i.incidentKey)\n"
        if i.seriesKey != i.incidentKey { out += "  series \(i.seriesKey)\n" }
        let end = i.resolvedAt.map { "resolved \(TimestampText.rfc3339($0))" } ?? "still active when the data ended"
        out += "  first seen \(TimestampText.rfc3339(i.firstSeen)), \(end)\n"
        out += "  peak \(number(i.peakValue)) (score \(number((i.peakScore * 100).rounded() / 100))), last \(number(i.lastValue)), "
            + "\(i.firings) \(i.firings == 1 ? "firing" : "firings"), \(i.severity)\n"
        if let playbook = i.playbook {
            let parameters = i.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(text($0.value))" }
            out += "  playbook \(playbook)\(parameters.isEmpty ? "" : " (\(parameters.joined(separator: ", ")))")\n"
        } else {
            out += "  no playbook\n"
        }
        return out
    }

    static func summary(statistics: [RuleStatistics], active: Int, data: DataSummary) -> String {
        let seen = statistics.filter { $0.samples > 0 }, unseen = statistics.filter { $0.samples == 0 }
        var out = seen.isEmpty ? "" : "\nRules:\n"
        let width = min(40, seen.map(\.rule.count).max() ?? 0)
        for s in seen {
            let name = s.rule.padding(toLength: max(width, s.rule.count), withPad: " ", startingAt: 0)
            var parts = ["\(s.incidents) \(s.incidents == 1 ? "incident" : "incidents")"]
            if s.foldedFirings > 0 { parts.append("\(s.foldedFirings) firings folded") }
            if s.suppressedByCooldown > 0 { parts.append("\(s.suppressedByCooldown) suppressed by cooldown") }
            var counts = ["\(s.series) series", "\(s.samples) samples"]
            if s.ignoredSamples > 0 { counts.append("\(s.ignoredSamples) ignored") }
            if s.droppedSamples > 0 { counts.append("\(s.droppedSamples) dropped over the series cap") }
            out += "  \(name)  \(parts.joined(separator: ", ")); \(counts.joined(separator: ", "))\n"
        }
        if !unseen.isEmpty {
            out += "\nNo samples for \(unseen.count) \(unseen.count == 1 ? "rule" : "rules"): \(unseen.map(\.rule).joined(separator: ", ")).\n"
        }
        let incidents = statistics.reduce(0) { $0 + $1.incidents }
        out += "\n\(incidents) \(incidents == 1 ? "incident" : "incidents")"
        if active > 0 { out += " (\(active) still active when the data ended)" }
        out += " from \(data.samples) samples of \(data.source)"
        out += data.skipped > 0 ? "; \(data.skipped) \(data.skipped == 1 ? "line" : "lines") could not be read and were skipped.\n" : ".\n"
        return out
    }

    /// Whole numbers without a fraction, others as Swift writes them (shortest round trip).
    static func number(_ value: Double) -> String { Interval.trim(value) }

    static func text(_ raw: StepArgument.RawValue) -> String {
        switch raw {
        case .scalar(let s, _): s
        case .list(let items): "[" + items.map(text).joined(separator: ", ") + "]"
        case .map(let entries): "{" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \(text($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    // MARK: JSON

    private static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Values reaching a report are finite (the engine ignores others); the fallback only keeps
        // a report well formed if one ever is not.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    private struct IncidentRecord: Encodable {
        var rule, incident_key, series, metric, severity: String
        var labels: [String: String]
        var playbook: String?
        var parameters: [String: ParameterJSON]
        var first_seen, fired: String
        var resolved: String?
        var active: Bool
        var value, score, peak_value, peak_score, last_value: Double
        var firings: Int

        init(_ i: Incident) {
            rule = i.rule
            incident_key = i.incidentKey
            series = i.seriesKey
            metric = i.metric
            severity = i.severity.code
            labels = i.labels
            playbook = i.playbook
            parameters = i.parameters.mapValues(ParameterJSON.init)
            first_seen = TimestampText.rfc3339(i.firstSeen)
            fired = TimestampText.rfc3339(i.firedAt)
            resolved = i.resolvedAt.map(TimestampText.rfc3339)
            active = i.resolvedAt == nil
            value = i.value
            score = i.score
            peak_value = i.peakValue
            peak_score = i.peakScore
            last_value = i.lastValue
            firings = i.firings
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            for (key, value) in [("rule", rule), ("incident_key", incident_key), ("series", series), ("metric", metric),
                                 ("severity", severity), ("first_seen", first_seen), ("fired", fired)] {
                try c.encode(value, forKey: Keys(key))
            }
            try c.encode(labels, forKey: Keys("labels"))
            try c.encode(playbook, forKey: Keys("playbook"))  // null when none
            try c.encode(parameters, forKey: Keys("parameters"))
            try c.encode(resolved, forKey: Keys("resolved"))
            try c.encode(active, forKey: Keys("active"))
            for (key, value) in [("value", value), ("score", score), ("peak_value", peak_value), ("peak_score", peak_score),
                                 ("last_value", last_value)] {
                try c.encode(value, forKey: Keys(key))
            }
            try c.encode(firings, forKey: Keys("firings"))
        }
    }

    private struct Keys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A parameter as written: text, a list, or a mapping.
    private enum ParameterJSON: Encodable {
        case text(String), list([ParameterJSON]), map([String: ParameterJSON])

        init(_ raw: StepArgument.RawValue) {
            switch raw {
            case .scalar(let s, _): self = .text(s)
            case .list(let items): self = .list(items.map(ParameterJSON.init))
            case .map(let entries): self = .map(entries.mapValues(ParameterJSON.init))
            }
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .list(let items): try c.encode(items)
            case .map(let entries): try c.encode(entries)
            }
        }
    }

    private struct RuleRecord: Encodable {
        var rule, origin, severity: String
        var playbook: String?
        var samples, ignored_samples, series, dropped_samples, pending, incidents, folded_firings, suppressed_by_cooldown, resolved: Int

        init(_ s: RuleStatistics) {
            rule = s.rule
            origin = s.origin.rawValue
            severity = s.severity.code
            playbook = s.playbook
            samples = s.samples
            ignored_samples = s.ignoredSamples
            series = s.series
            dropped_samples = s.droppedSamples
            pending = s.pending
            incidents = s.incidents
            folded_firings = s.foldedFirings
            suppressed_by_cooldown = s.suppressedByCooldown
            resolved = s.resolved
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(rule, forKey: Keys("rule"))
            try c.encode(origin, forKey: Keys("origin"))
            try c.encode(severity, forKey: Keys("severity"))
            try c.encode(playbook, forKey: Keys("playbook"))
            for (key, value) in [("samples", samples), ("ignored_samples", ignored_samples), ("series", series),
                                 ("dropped_samples", dropped_samples), ("pending", pending), ("incidents", incidents),
                                 ("folded_firings", folded_firings), ("suppressed_by_cooldown", suppressed_by_cooldown),
                                 ("resolved", resolved)] {
                try c.encode(value, forKey: Keys(key))
            }
        }
    }

    private struct RejectionRecord: Encodable {
        var rule, reason, location: String
    }

    private struct ErrorRecord: Encodable {
        var line: Int
        var reason: String
    }

    private struct DataRecord: Encodable {
        var source: String
        var lines, samples, skipped: Int
        var errors: [ErrorRecord]
    }
}
