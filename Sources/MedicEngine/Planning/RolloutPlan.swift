import Foundation
import MedicModel

/// How a plan with targets is carried across them (§7.3 progressive rollout): stages of targets,
/// each stage's targets worked on at most `maxConcurrency` at a time, a wait and checks between
/// stages, and a failure budget. Stage membership is fixed here, so `medic plan` and the run
/// agree target by target.
public struct PlannedRollout: Sendable, Hashable, Codable {
    /// Where the policy comes from: `playbook`, `policy progressive_rollout` (policies/), or
    /// `default` (neither gives one).
    public var source: String
    /// `given` (the order the targets were given in), `name`, or `random`.
    public var order: String
    /// The seed of `order: random`.
    public var seed: UInt64?
    public var maxConcurrency: Int
    /// Failed targets, as a share of all targets, that the rollout tolerates; above it the
    /// rollout aborts. 0: any failure aborts.
    public var maxFailPercentage: Double
    public var stages: [PlannedStage]
    /// Checked after every stage (and the last): when it holds, the rollout aborts.
    public var abortOn: Condition?
    /// The series whose value before the rollout a `NAME_increase` reference compares with
    /// (`error_rate_increase > 5%` reads `error_rate`), measured and journaled before stage 1.
    public var baselines: [MetricSelector]

    /// Every target, in rollout order.
    public var targets: [String] { stages.flatMap(\.targets) }

    /// The most failed targets that do not abort the rollout (out of `total`).
    public func failureBudget(total: Int) -> Int {
        Int((maxFailPercentage / 100 * Double(total) + 1e-9).rounded(.down))
    }
}

public struct PlannedStage: Sendable, Hashable, Codable {
    /// 1-based.
    public var number: Int
    /// The size as written (`1%`, `5`, `all`): the total share of targets remediated once the
    /// stage ends.
    public var size: String
    /// The stage's own targets (not those of earlier stages), in rollout order.
    public var targets: [String]
    /// Pause after the stage, before its checks (none after the last stage).
    public var wait: Interval?
    /// Must hold after the stage for the next one to start.
    public var verify: Condition?
}

/// Builds the `PlannedRollout` of a plan's targets: a pure function of the targets, the policy
/// and its seed.
public enum RolloutPlanner {
    /// `policy` from the playbook; `containment` from policies/ (`progressive_rollout`), used
    /// when the playbook has none.
    public static func plan(targets: [TargetSpec], policy: RolloutPolicy?, containment: ContainmentStrategy?,
                            playbookID: String) throws -> PlannedRollout {
        var stages: [(size: RolloutStageSize, wait: Interval?, verify: Condition?)]
        var source = "default"
        var chosen = policy ?? RolloutPolicy()
        var abortOn = chosen.abortOn
        if let policy {
            source = "playbook"
            stages = policy.stages.map { ($0, policy.wait, policy.verify) }
        } else if let containment {
            source = "policy \(containment.name)"
            stages = try containmentStages(containment)
            abortOn = containment.abortOn
            chosen = RolloutPolicy()
        } else {
            stages = chosen.stages.map { ($0, nil, nil) }
        }
        let order = chosen.order ?? "given"
        var ordered = targets
        var seed: UInt64?
        switch order {
        case "name": ordered.sort { $0.name < $1.name }
        case "random":
            let s = chosen.seed.map { UInt64(bitPattern: Int64($0)) } ?? Self.stableHash(playbookID)
            seed = s
            ordered = Self.shuffled(targets, seed: s)
        default: break
        }
        let names = ordered.map(\.name)
        var planned: [PlannedStage] = []
        var covered = 0
        for (index, stage) in stages.enumerated() {
            let total: Int
            switch stage.size {
            // The share rounded up, at least one target: 1% of 50 targets is 1, 10% of 30 is 3.
            case .percentage(let p): total = min(names.count, max(1, Int((p / 100 * Double(names.count) - 1e-9).rounded(.up))))
            case .count(let n): total = min(names.count, n)
            case .all: total = names.count
            }
            // A stage that adds no target (1% and 10% of 5 targets are both 1) merges into the next.
            guard total > covered else { continue }
            planned.append(PlannedStage(number: planned.count + 1, size: stage.size.description,
                                        targets: Array(names[covered..<total]), wait: index == stages.count - 1 ? nil : stage.wait,
                                        verify: stage.verify))
            covered = total
        }
        if covered < names.count {
            // The stages stop short of every target: the rest is one more stage, said so in the plan.
            planned.append(PlannedStage(number: planned.count + 1, size: "all (the stages cover \(covered) of \(names.count))",
                                        targets: Array(names[covered...]), wait: nil, verify: nil))
        }
        // No wait or check after the last stage: the playbook's verification follows it.
        if !planned.isEmpty {
            planned[planned.count - 1].wait = nil
            planned[planned.count - 1].verify = nil
        }
        let conditions = planned.compactMap(\.verify) + (abortOn.map { [$0] } ?? [])
        var baselines: [MetricSelector] = []
        for reference in conditions.flatMap(\.expression.references) where reference.name.hasSuffix(Self.increaseSuffix) {
            var base = reference
            base.name = String(reference.name.dropLast(Self.increaseSuffix.count))
            if !base.name.isEmpty && !baselines.contains(base) { baselines.append(base) }
        }
        return PlannedRollout(source: source, order: order, seed: seed, maxConcurrency: max(1, chosen.maxConcurrency ?? 1),
                              maxFailPercentage: chosen.maxFailPercentage ?? 0, stages: planned, abortOn: abortOn,
                              baselines: baselines)
    }

    /// `error_rate_increase` is the relative change of `error_rate` since before the rollout, in percent.
    public static let increaseSuffix = "_increase"

    /// §7.3 as written in policies/: `step_N: P% of instances`, then `wait: 5_minutes` and
    /// `verify: error_rate not increased` for the stage before them.
    static func containmentStages(_ strategy: ContainmentStrategy) throws -> [(size: RolloutStageSize, wait: Interval?, verify: Condition?)] {
        var stages: [(size: RolloutStageSize, wait: Interval?, verify: Condition?)] = []
        let at = "\(strategy.location): containment strategy '\(strategy.name)'"
        for item in strategy.strategy {
            let key = item.key.lowercased(), value = item.value.trimmingCharacters(in: .whitespaces)
            if key.hasPrefix("step") {
                let word = value.split(separator: " ").first.map(String.init) ?? ""
                if word.hasSuffix("%"), let p = Double(word.dropLast()), p > 0, p <= 100 {
                    stages.append((.percentage(p), nil, nil))
                } else if let n = Int(word), n >= 1 {
                    stages.append((.count(n), nil, nil))
                } else if word.lowercased() == "all" {
                    stages.append((.all, nil, nil))
                } else {
                    throw PlanError("\(at): '\(item.key): \(item.value)' is not a stage size; write '10% of instances', a count, or 'all'")
                }
            } else if key == "wait" {
                guard !stages.isEmpty else { throw PlanError("\(at): 'wait' comes before any stage") }
                guard case .success(let interval) = Interval.parse(value) else {
                    throw PlanError("\(at): 'wait: \(item.value)' is not a duration (such as 5_minutes)")
                }
                stages[stages.count - 1].wait = interval
            } else if key == "verify" {
                guard !stages.isEmpty else { throw PlanError("\(at): 'verify' comes before any stage") }
                stages[stages.count - 1].verify = try verifyCondition(value, at: at)
            } else {
                throw PlanError("\(at): '\(item.key)' is not a rollout instruction (step_N, wait, verify)")
            }
        }
        guard !stages.isEmpty else { throw PlanError("\(at): no 'step_N: P% of instances' stage") }
        return stages
    }

    /// `error_rate not increased` (the reference's words) is `error_rate_increase <= 0%`; anything
    /// else must be a condition.
    static func verifyCondition(_ text: String, at: String) throws -> Condition {
        let words = text.split(separator: " ")
        let rewritten = words.count == 3 && words[1] == "not" && words[2] == "increased"
            ? "\(words[0])\(increaseSuffix) <= 0%" : text
        switch Condition.parse(rewritten) {
        case .success(var condition):
            condition.source = text == rewritten ? text : "\(text) (\(rewritten))"
            return condition
        case .failure(let error):
            throw PlanError("\(at): 'verify: \(text)' is not a condition: \(error.message)")
        }
    }

    /// FNV-1a of the text: the default seed of `order: random`, the same on every machine.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// Fisher-Yates driven by SplitMix64 from `seed`: the documented order of `order: random`.
    static func shuffled(_ targets: [TargetSpec], seed: UInt64) -> [TargetSpec] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        var result = targets
        guard result.count > 1 else { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            result.swapAt(i, j)
        }
        return result
    }
}
