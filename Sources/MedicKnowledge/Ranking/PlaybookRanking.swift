import Foundation
import MedicModel

/// A playbook that could remediate an incident, as the ranking sees it.
public struct RankingCandidate: Sendable, Hashable {
    public var playbookID: String
    /// The playbook's `safety.blast_radius`; nil when it declares none.
    public var blastRadius: BlastRadius?
    /// The playbook's `metadata.success_rate` / `avg_execution_time` (seconds): used only while
    /// the knowledge base has no run of it.
    public var declaredSuccessRate: Double?
    public var declaredExecutionTime: Double?
    /// Proposed by the immune memory (it cured this fault before): ranked first.
    public var remembered: Bool

    public init(playbookID: String, blastRadius: BlastRadius? = nil, declaredSuccessRate: Double? = nil,
                declaredExecutionTime: Double? = nil, remembered: Bool = false) {
        self.playbookID = playbookID
        self.blastRadius = blastRadius
        self.declaredSuccessRate = declaredSuccessRate
        self.declaredExecutionTime = declaredExecutionTime
        self.remembered = remembered
    }
}

/// One part of a candidate's score: the criterion, its weight, what was measured, the part's
/// score in [0, 1], and its share of the total (weight × score / sum of weights).
public struct ScorePart: Sendable, Hashable, Codable {
    public var criterion: String
    public var weight: Double
    /// The measured value (a rate, seconds, a level distance, days); nil when unknown.
    public var value: Double?
    public var score: Double
    public var contribution: Double
    /// Where the value came from, in words.
    public var basis: String
}

/// A candidate with its place, score and the parts of the score. (Its coding keys are the
/// property names: the engine's journal and `medic plan --json` write them in snake_case.)
public struct RankedPlaybook: Sendable, Hashable, Codable {
    public var rank: Int
    public var playbookID: String
    /// The weighted mean of the parts, in [0, 1].
    public var score: Double
    /// Proposed by the immune memory, so first whatever its score.
    public var remembered: Bool
    public var parts: [ScorePart]
}

/// Ranks candidate playbooks by reference §6.2's `select_playbook` criteria. Pure: the track
/// records, the incident's reach and the time are passed in. The rules (docs/knowledge.md,
/// "Ranking"):
/// - success_rate: successes / runs from the knowledge base; with no run, the playbook's declared
///   `metadata.success_rate`; with neither, 0.5 (unknown).
/// - avg_execution_time: the fastest known average among the candidates divided by this one's
///   (1 for the fastest); the average from the knowledge base, else the declared one; unknown 0.5.
/// - blast_radius_match: 1 − |level(incident) − level(playbook)| / 4 over the five §7.1 levels;
///   a playbook that declares none is taken as single_instance.
/// - recency: 0.5^(days since its last success / half-life); never succeeded 0.
/// Order: candidates the immune memory proposed first, then by score (higher first), then in
/// the order given (the rule's order).
public enum PlaybookRanker {
    public static func rank(_ candidates: [RankingCandidate], records: (String) -> PlaybookTrackRecord?,
                            incidentRadius: BlastRadius, policy: PlaybookSelectionPolicy = .reference, now: Date) -> [RankedPlaybook] {
        let totalWeight = policy.successRate + policy.avgExecutionTime + policy.blastRadiusMatch + policy.recency
        let weightSum = totalWeight > 0 ? totalWeight : 1
        let history = candidates.map { records($0.playbookID) }
        func time(_ i: Int) -> (Double, String)? {
            if let average = history[i]?.averageExecutionTime { return (average, "mean of \(history[i]!.runs) run(s)") }
            if let declared = candidates[i].declaredExecutionTime { return (declared, "metadata.avg_execution_time (no run recorded)") }
            return nil
        }
        let fastest = candidates.indices.compactMap { time($0)?.0 }.min()
        let levels = BlastRadius.allCases.sorted()

        var ranked: [(index: Int, entry: RankedPlaybook)] = []
        for (i, candidate) in candidates.enumerated() {
            var parts: [ScorePart] = []
            func part(_ criterion: String, _ weight: Double, _ value: Double?, _ score: Double, _ basis: String) {
                let bounded = min(1, max(0, score.isFinite ? score : 0))
                parts.append(ScorePart(criterion: criterion, weight: weight, value: value, score: bounded,
                                       contribution: weight * bounded / weightSum, basis: basis))
            }
            let record = history[i]
            if let rate = record?.successRate {
                part("success_rate", policy.successRate, rate, rate, "\(record!.successes) of \(record!.runs) run(s) succeeded")
            } else if let declared = candidate.declaredSuccessRate {
                let rate = declared > 1 ? declared / 100 : declared
                part("success_rate", policy.successRate, rate, rate, "metadata.success_rate (no run recorded)")
            } else {
                part("success_rate", policy.successRate, nil, 0.5, "no run recorded and none declared: 0.5")
            }
            if let (seconds, basis) = time(i), let fastest {
                part("avg_execution_time", policy.avgExecutionTime, seconds, seconds > 0 ? fastest / seconds : 1,
                     basis + (seconds == fastest ? ", the fastest candidate" : String(format: ", fastest candidate %.3gs", fastest)))
            } else {
                part("avg_execution_time", policy.avgExecutionTime, nil, 0.5, "no run recorded and none declared: 0.5")
            }
            let level = candidate.blastRadius ?? .singleInstance
            let distance = abs((levels.firstIndex(of: level) ?? 0) - (levels.firstIndex(of: incidentRadius) ?? 0))
            part("blast_radius_match", policy.blastRadiusMatch, Double(distance), 1 - Double(distance) / Double(levels.count - 1),
                 "playbook \(level.rawValue)\(candidate.blastRadius == nil ? " (none declared)" : ""), incident \(incidentRadius.rawValue)")
            if let last = record?.lastSuccess {
                let days = max(0, now.timeIntervalSince(last)) / 86_400
                let halfLife = policy.recencyHalfLife.seconds / 86_400
                part("recency", policy.recency, days, pow(0.5, days / halfLife),
                     String(format: "last success %.1f day(s) ago, half-life %.4g day(s)", days, halfLife))
            } else {
                part("recency", policy.recency, nil, 0, "never succeeded")
            }
            let score = parts.reduce(0) { $0 + $1.contribution }
            ranked.append((i, RankedPlaybook(rank: 0, playbookID: candidate.playbookID, score: score,
                                             remembered: candidate.remembered, parts: parts)))
        }
        ranked.sort { a, b in
            if a.entry.remembered != b.entry.remembered { return a.entry.remembered }
            if a.entry.score != b.entry.score { return a.entry.score > b.entry.score }
            return a.index < b.index
        }
        return ranked.enumerated().map { place, item in
            var entry = item.entry
            entry.rank = place + 1
            return entry
        }
    }
}
