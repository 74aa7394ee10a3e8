import Foundation

/// What the statistics (`medic kb stats`) counted of incident records that a prune took out of
/// the history: every count and sum of `OutcomeStatisticsBuilder`, by playbook and step, and up
/// to `OutcomeStatisticsBuilder.reservoirCapacity` execution times per playbook for the p95.
/// Added to a builder, it counts as the records it was made of did: the same counts, the same
/// sums (up to the order of floating-point additions), the same p95 while a playbook has at most
/// that many runs in all.
public struct PrunedIncidentFigures: Codable, Sendable, Equatable {
    public struct Playbook: Codable, Sendable, Equatable {
        public var id: String
        public var runs = 0, refused = 0, successes = 0, rollbacks = 0, detected = 0, denied = 0
        public var totalTime = 0.0
        public var times: [Double] = []
        public var steps: [Step] = []

        enum CodingKeys: String, CodingKey {
            case id, runs, refused, successes, rollbacks, detected, denied, steps, times
            case totalTime = "total_time"
        }
    }

    public struct Step: Codable, Sendable, Equatable {
        public var step: Int
        public var name: String
        public var executions: Int
        public var successes: Int
    }

    public var incidents = 0, attempted = 0, succeeded = 0, rollbacks = 0, automated = 0, autoResolved = 0
    public var needingPeople = 0, detected = 0, denied = 0, chaosRuns = 0
    public var detectTotal = 0.0, detectCount = 0, resolveTotal = 0.0, resolveCount = 0
    public var playbooks: [Playbook] = []

    enum CodingKeys: String, CodingKey {
        case incidents, attempted, succeeded, rollbacks, automated, detected, denied, playbooks
        case autoResolved = "auto_resolved", needingPeople = "needing_people", chaosRuns = "chaos_runs"
        case detectTotal = "detect_total", detectCount = "detect_count"
        case resolveTotal = "resolve_total", resolveCount = "resolve_count"
    }
}

extension OutcomeStatisticsBuilder {
    /// The figures of the records added so far, to be added to another builder in their place
    /// (`add(_:)`). `since` is not kept: the caller decides which builders' records these are.
    public func prunedFigures() -> PrunedIncidentFigures {
        var figures = PrunedIncidentFigures(
            incidents: incidents, attempted: attempted, succeeded: succeeded, rollbacks: rollbacks, automated: automated,
            autoResolved: autoResolved, needingPeople: needingPeople, detected: detected, denied: denied, chaosRuns: chaosRuns,
            detectTotal: detectTotal, detectCount: detectCount, resolveTotal: resolveTotal, resolveCount: resolveCount)
        figures.playbooks = ids.indices.sorted { ids[$0] < ids[$1] }.map { number in
            let book = playbooks[number]
            return PrunedIncidentFigures.Playbook(
                id: ids[number], runs: book.runs, refused: book.refused, successes: book.successes, rollbacks: book.rollbacks,
                detected: book.detected, denied: book.denied, totalTime: book.totalTime, times: book.times,
                steps: book.steps.keys.sorted().map { n in
                    let step = book.steps[n]!
                    return .init(step: n, name: step.name, executions: step.executions, successes: step.successes)
                })
        }
        return figures
    }

    /// Counts the records `figures` were made of (whatever `since` says: the caller chose them).
    public mutating func add(_ figures: PrunedIncidentFigures) {
        incidents += figures.incidents
        attempted += figures.attempted
        succeeded += figures.succeeded
        rollbacks += figures.rollbacks
        automated += figures.automated
        autoResolved += figures.autoResolved
        needingPeople += figures.needingPeople
        detected += figures.detected
        denied += figures.denied
        chaosRuns += figures.chaosRuns
        detectTotal += figures.detectTotal
        detectCount += figures.detectCount
        resolveTotal += figures.resolveTotal
        resolveCount += figures.resolveCount
        for pruned in figures.playbooks {
            let book = number(of: pruned.id)
            playbooks[book].runs += pruned.runs
            playbooks[book].refused += pruned.refused
            playbooks[book].successes += pruned.successes
            playbooks[book].rollbacks += pruned.rollbacks
            playbooks[book].detected += pruned.detected
            playbooks[book].denied += pruned.denied
            playbooks[book].totalTime += pruned.totalTime
            for time in pruned.times { sample(time, book: book) }
            for step in pruned.steps {
                if let at = playbooks[book].steps.index(forKey: step.step) {
                    playbooks[book].steps.values[at].executions += step.executions
                    playbooks[book].steps.values[at].successes += step.successes
                } else {
                    playbooks[book].steps[step.step] = (step.name, step.executions, step.successes)
                }
            }
        }
    }
}
