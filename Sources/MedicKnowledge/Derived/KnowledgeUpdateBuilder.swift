import Foundation
import MedicText

/// The settings of `medic kb update`.
public struct KnowledgeUpdateConfiguration: Sendable, Equatable {
    /// Seconds before the update's time that incident patterns are looked for in (30 days).
    public var patternWindow: Double
    /// The least occurrences of one key in the window that make a pattern (3).
    public var minimumOccurrences: Int
    /// The share of a pattern's occurrences in one hour of the day that makes it temporal (0.7, at or above).
    public var temporalShare: Double
    /// A playbook is recommended for a category where its success rate is at or above this (0.8) …
    public var recommendedSuccessRate: Double
    /// … and not recommended where it is below this (0.5) …
    public var notRecommendedSuccessRate: Double
    /// … on at least this many attempted runs (5).
    public var minimumRuns: Int
    /// The advice recorded in each snapshot's `optimization_history`, over `adviceWindow` seconds
    /// before the update (30 days, as `medic kb advise` defaults).
    public var advice: AdviceConfiguration
    public var adviceWindow: Double

    public static let day = 86_400.0

    public init(patternWindow: Double = 30 * day, minimumOccurrences: Int = 3, temporalShare: Double = 0.7,
                recommendedSuccessRate: Double = 0.8, notRecommendedSuccessRate: Double = 0.5, minimumRuns: Int = 5,
                advice: AdviceConfiguration = AdviceConfiguration(), adviceWindow: Double = 30 * day) {
        self.patternWindow = patternWindow
        self.minimumOccurrences = minimumOccurrences
        self.temporalShare = temporalShare
        self.recommendedSuccessRate = recommendedSuccessRate
        self.notRecommendedSuccessRate = notRecommendedSuccessRate
        self.minimumRuns = minimumRuns
        self.advice = advice
        self.adviceWindow = adviceWindow
    }
}

/// What one `medic kb update` derives from the incident history: the §9.3 records to append and
/// the root-cause library to write.
public struct KnowledgeDerivation: Sendable, Equatable {
    public var performance: [PlaybookPerformance]
    public var effectiveness: [RemediationEffectiveness]
    public var patterns: [IncidentPattern]
    public var rootCauses: RootCauseLibrary
}

/// Folds incident records, one at a time, into a `KnowledgeDerivation` at a given time. Memory is
/// bounded by the playbooks, steps, categories and pattern keys (plus the reservoirs of the
/// statistics and advice builders), not by the number of records.
public struct KnowledgeUpdateBuilder: Sendable {
    public let now: Date
    public let configuration: KnowledgeUpdateConfiguration
    private let at: String
    private let patternSince: String

    private var statistics = OutcomeStatisticsBuilder()
    private var advice: AdviceBuilder
    private var failureModes: [String: [String: Int]] = [:]
    /// playbook → step → (timed executions, total seconds).
    private var stepTimes: [String: [Int: (count: Int, total: Double)]] = [:]

    private struct Pairing: Sendable { var runs = 0, successes = 0, resolved = 0; var resolutionTotal = 0.0 }
    /// playbook → category.
    private var pairings: [String: [String: Pairing]] = [:]

    private struct Cause: Sendable { var incidents = 0; var rules: Set<String> = []; var methods: Set<String> = [] }
    private var causes: [String: Cause] = [:]

    private struct PatternKey: Sendable, Hashable { var kind: IncidentPattern.SignalKind; var signal: String; var component: String? }
    private struct Occurrences: Sendable {
        var count = 0
        var first = "", last = ""
        var hours = [Int](repeating: 0, count: 24)
        var rules: Set<String> = []
    }
    private var patterns: [PatternKey: Occurrences] = [:]

    public init(now: Date, configuration: KnowledgeUpdateConfiguration = KnowledgeUpdateConfiguration()) {
        self.now = now
        self.configuration = configuration
        at = Timestamp.text(now)
        patternSince = Timestamp.text(now.addingTimeInterval(-configuration.patternWindow))
        advice = AdviceBuilder(since: Timestamp.text(now.addingTimeInterval(-configuration.adviceWindow)),
                               configuration: configuration.advice)
    }

    public mutating func add(_ record: IncidentRecord) {
        statistics.add(record)
        advice.add(record)
        let playbook = record.remediation.playbookID
        let category = record.classification.category ?? RemediationEffectiveness.uncategorized
        if record.runOutcome != .succeeded {
            failureModes[playbook, default: [:]][record.runOutcome.rawValue, default: 0] += 1
        }
        for step in record.remediation.stepsExecuted {
            guard let duration = step.duration else { continue }
            var entry = stepTimes[playbook, default: [:]][step.step] ?? (0, 0)
            entry.count += 1
            entry.total += duration
            stepTimes[playbook, default: [:]][step.step] = entry
        }
        if record.runOutcome.attempted {
            var pairing = pairings[playbook, default: [:]][category] ?? Pairing()
            pairing.runs += 1
            if record.runOutcome == .succeeded { pairing.successes += 1 }
            if let ttr = record.resolution.timeToResolution {
                pairing.resolved += 1
                pairing.resolutionTotal += ttr
            }
            pairings[playbook, default: [:]][category] = pairing
        }
        var cause = causes[category] ?? Cause()
        cause.incidents += 1
        if let rule = record.detection.rule { cause.rules.insert(rule) }
        cause.methods.insert(record.detection.method.rawValue)
        causes[category] = cause
        if record.timestamp >= patternSince { addOccurrence(record, category: category) }
    }

    private mutating func addOccurrence(_ record: IncidentRecord, category: String) {
        let (kind, signal): (IncidentPattern.SignalKind, String) = record.detection.rule.map { (.rule, $0) } ?? (.category, category)
        let components = Set(record.classification.affectedComponents)
        let hour = Timestamp.hourOfDay(record.timestamp)
        for component in components.isEmpty ? [nil] : components.sorted().map(Optional.some) {
            let key = PatternKey(kind: kind, signal: signal, component: component)
            var seen = patterns[key] ?? Occurrences()
            seen.count += 1
            if seen.first.isEmpty || record.timestamp < seen.first { seen.first = record.timestamp }
            if record.timestamp > seen.last { seen.last = record.timestamp }
            if let hour { seen.hours[hour] += 1 }
            if let rule = record.detection.rule { seen.rules.insert(rule) }
            patterns[key] = seen
        }
    }

    public func result() -> KnowledgeDerivation {
        let c = configuration
        let stats = statistics.result()
        let findings = advice.result().findings
        let performance = stats.playbooks.map { book in
            let times = stepTimes[book.playbookID] ?? [:]
            var steps: [String: PlaybookPerformance.StepPerformance] = [:]
            for step in book.steps {
                let timed = times[step.step]
                steps[String(step.step)] = .init(name: step.name, executions: step.executions, successRate: step.successRate,
                                                 avgDuration: timed.map { $0.total / Double($0.count) })
            }
            let modes = (failureModes[book.playbookID] ?? [:])
                .map { PlaybookPerformance.FailureMode(outcome: $0.key, count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.outcome < $1.outcome }
            return PlaybookPerformance(at: at, playbookID: book.playbookID, totalExecutions: book.runs,
                                       successRate: book.successRate, avgExecutionTime: book.averageExecutionTime,
                                       falsePositiveRate: book.falsePositiveRate, stepPerformance: steps, failureModes: modes,
                                       optimizationHistory: findings.filter { $0.playbookID == book.playbookID })
        }
        var effectiveness: [RemediationEffectiveness] = []
        for playbook in pairings.keys.sorted() {
            let byCategory = pairings[playbook]!
            let judged = byCategory.filter { $0.value.runs >= c.minimumRuns && $0.value.runs > 0 }
            let recommended = judged.filter { Double($0.value.successes) >= c.recommendedSuccessRate * Double($0.value.runs) }
                .keys.sorted()
            let notRecommended = judged.filter { Double($0.value.successes) < c.notRecommendedSuccessRate * Double($0.value.runs) }
                .keys.sorted()
            for category in byCategory.keys.sorted() {
                let p = byCategory[category]!
                effectiveness.append(RemediationEffectiveness(
                    at: at, remediationAction: playbook, problemCategory: category, runs: p.runs, successes: p.successes,
                    avgTimeToResolution: p.resolved == 0 ? nil : p.resolutionTotal / Double(p.resolved),
                    recommendedFor: recommended, notRecommendedFor: notRecommended))
            }
        }
        return KnowledgeDerivation(performance: performance, effectiveness: effectiveness, patterns: incidentPatterns(),
                                   rootCauses: RootCauseLibrary(updatedAt: at, rootCauses: rootCauses()))
    }

    private func incidentPatterns() -> [IncidentPattern] {
        let c = configuration
        let days = c.patternWindow / KnowledgeUpdateConfiguration.day
        var result: [IncidentPattern] = []
        for (key, seen) in patterns where seen.count >= c.minimumOccurrences && seen.count > 0 {
            let timed = seen.hours.reduce(0, +)
            var peak: Int?
            if timed > 0, let most = seen.hours.max() { peak = seen.hours.firstIndex(of: most) }
            let share = peak.map { Double(seen.hours[$0]) / Double(seen.count) }
            let temporal = share.map { $0 >= c.temporalShare } ?? false
            let subject = key.kind == .rule ? "rule '\(key.signal)'" : "\(key.signal) incidents"
            var description = "\(subject) on \(key.component ?? "no named component"): \(seen.count) times in "
                + "\(Self.number(days)) day\(days == 1 ? "" : "s")"
            if temporal, let peak, let share {
                description += ", \(Int((share * 100).rounded()))% of them between \(Self.hour(peak)) and \(Self.hour((peak + 1) % 24)) UTC"
            }
            result.append(IncidentPattern(
                at: at, patternID: IncidentPattern.id(kind: key.kind, signal: key.signal, component: key.component),
                patternType: temporal ? .temporal : .recurring, description: description, signalKind: key.kind,
                signal: key.signal, affectedComponent: key.component, frequency: Double(seen.count) / days, windowDays: days,
                firstSeen: seen.first, lastSeen: seen.last, occurrences: seen.count, peakHour: peak, peakHourShare: share,
                earlyWarningSignals: seen.rules.sorted()))
        }
        return result.sorted { $0.patternID < $1.patternID }
    }

    private func rootCauses() -> [String: RootCause] {
        var result: [String: RootCause] = [:]
        for (category, cause) in causes {
            let cures = pairings.compactMap { playbook, byCategory -> (String, Pairing)? in
                guard let p = byCategory[category], p.successes > 0 else { return nil }
                return (playbook, p)
            }.sorted { a, b in
                // successes/runs compared without division: a.s·b.r vs b.s·a.r.
                let left = a.1.successes * b.1.runs, right = b.1.successes * a.1.runs
                if left != right { return left > right }
                if a.1.successes != b.1.successes { return a.1.successes > b.1.successes }
                return a.0 < b.0
            }
            result[category] = RootCause(
                category: category,
                description: "Incidents remediated by \(category) playbooks (\(cause.incidents)); runs do not record the root cause itself",
                symptoms: cause.rules.sorted(), detectionMethods: cause.methods.sorted(),
                remediationPlaybooks: cures.map(\.0), frequency: cause.incidents)
        }
        return result
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    private static func hour(_ h: Int) -> String { h < 10 ? "0\(h):00" : "\(h):00" }
}

/// The one spelling of times in the derived files: RFC 3339, UTC, milliseconds (as the records).
extension Timestamp {
    static func text(_ date: Date) -> String {
        Timestamp(date)?.rfc3339() ?? date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// The UTC hour of an RFC 3339 time (any offset), nil when it is not one.
    static func hourOfDay(_ text: String) -> Int? {
        guard let time = Timestamp(rfc3339: text) else { return nil }
        return time.secondOfDay / 3600
    }
}
