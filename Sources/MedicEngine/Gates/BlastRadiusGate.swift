import Foundation
import MedicModel

/// How far a run reaches, from its targets (§7.2): targets are instances; their `service`,
/// `cluster` and `region` labels name the rest (targets without the label count as one).
public struct BlastRadiusEstimate: Sendable, Hashable, Codable {
    public var instances: Int
    public var services: Int
    public var clusters: Int
    public var regions: Int
    /// Computed from the counts, never below the playbook's `safety.blast_radius`.
    public var level: BlastRadius

    public init(plan: Plan) {
        let targets = plan.targets
        func distinct(_ label: String) -> Int { max(1, Set(targets.map { $0.labels[label] ?? "" }).count) }
        instances = max(1, targets.count)
        services = targets.isEmpty ? 1 : distinct("service")
        clusters = targets.isEmpty ? 1 : distinct("cluster")
        regions = targets.isEmpty ? 1 : distinct("region")
        level = max(Self.level(instances: instances, services: services, clusters: clusters, regions: regions),
                    plan.safety.blastRadius ?? .singleInstance)
    }

    /// The level §7.2's counts give for `targets` alone (none: one instance).
    public static func computedLevel(targets: [TargetSpec]) -> BlastRadius {
        func distinct(_ label: String) -> Int { max(1, Set(targets.map { $0.labels[label] ?? "" }).count) }
        return targets.isEmpty ? .singleInstance
            : level(instances: targets.count, services: distinct("service"), clusters: distinct("cluster"), regions: distinct("region"))
    }

    private static func level(instances: Int, services: Int, clusters: Int, regions: Int) -> BlastRadius {
        if regions > 1 { return .multiRegion }
        if clusters > 1 || services > 5 { return .clusterWide }
        if services > 1 { return .multipleServices }
        if instances > 1 { return .singleService }
        return .singleInstance
    }

    var counts: String { "\(instances) instance(s), \(services) service(s), \(clusters) cluster(s), \(regions) region(s)" }
}

/// Gate: the policy of the run's blast radius level (§7.1). For an automated run:
/// `always_allowed` passes, `allowed_with_approval` needs approval when `approval_required` or
/// one of `approval_required_if` holds, `restricted` needs approval, `disabled` refuses. A
/// person's run needs approval where the level sets `approval_required`. Levels with
/// `require_sign_off` need every listed role's sign-off (`--sign-off ROLE=NAME`), manual or not.
/// The facts `approval_required_if` may test: `severity`, `instances`, `services`, `clusters`,
/// `regions`, and `service_is_critical` (a target labelled `critical: "true"`).
public struct BlastRadiusGate: Gate {
    public let name = GateID.blastRadius
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let estimate = BlastRadiusEstimate(plan: context.plan)
        let what = "\(estimate.level.rawValue) (\(estimate.counts))"
        guard let policy = context.catalog.policies.blastRadiusLevels.first(where: { $0.level == estimate.level }) else {
            return .pass(name, "\(what); no policy for that level is loaded")
        }
        let missingSignOffs = policy.requireSignOff.filter { context.signOffs[$0] == nil }
        if context.mode == .automated && policy.autoRemediation == .disabled {
            return .refuse(name, "\(what): auto_remediation disabled at this level; a person may run it"
                + (policy.requireSignOff.isEmpty ? "" : " with sign-offs from \(policy.requireSignOff.joined(separator: ", "))"))
        }
        var why: [String] = []
        if policy.approvalRequired { why.append("approval_required") }
        if context.mode == .automated {
            if policy.autoRemediation == .restricted { why.append("auto_remediation restricted") }
            if policy.autoRemediation == .allowedWithApproval, let held = await firstHolding(policy.approvalRequiredIf, estimate, context) {
                why.append("approval_required_if: \(held)")
            }
        }
        var needs: [String] = []
        if !why.isEmpty && context.approvedBy == nil { needs.append("a person's approval: --approved-by NAME") }
        needs += missingSignOffs.map { "sign-off of \($0): --sign-off \($0)=NAME" }
        guard needs.isEmpty else {
            let reasons = why + (missingSignOffs.isEmpty ? [] : ["require_sign_off \(policy.requireSignOff.joined(separator: ", "))"])
            return GateVerdict(gate: name, decision: .needsApproval, reason: "\(what): " + reasons.joined(separator: "; "), needs: needs)
        }
        var given: [String] = []
        if !why.isEmpty, let approver = context.approvedBy { given.append("approved by \(approver) (\(why.joined(separator: "; ")))") }
        if !policy.requireSignOff.isEmpty {
            given.append("signed off by " + policy.requireSignOff.map { "\($0) \(context.signOffs[$0]!)" }.joined(separator: ", "))
        }
        return .pass(name, "\(what): auto_remediation \(policy.autoRemediation.rawValue)" + (given.isEmpty ? "" : "; " + given.joined(separator: "; ")))
    }

    /// The first `approval_required_if` item that holds for this run, as written.
    private func firstHolding(_ items: [Precondition], _ estimate: BlastRadiusEstimate, _ context: GateContext) async -> String? {
        let critical = context.plan.targets.contains { ["true", "yes"].contains(($0.labels["critical"] ?? "").lowercased()) }
        let facts: [String: [InMemoryMetricSource.Reading]] = [
            "severity": [.text(context.plan.severity.code)], "instances": [.number(Double(estimate.instances))],
            "services": [.number(Double(estimate.services))], "clusters": [.number(Double(estimate.clusters))],
            "regions": [.number(Double(estimate.regions))], "service_is_critical": [.number(critical ? 1 : 0)],
        ]
        let evaluator = ConditionEvaluator(metrics: MetricRegistry(sources: [(patterns: ["*"], source: InMemoryMetricSource(facts))],
                                                                   host: InMemoryMetricSource()))
        for item in items {
            switch item {
            case .condition(let condition):
                // Unknown counts as holding: when in doubt, ask a person.
                if case .fails = await evaluator.evaluate(condition, parameters: [:]) { continue }
                return condition.source
            case .check(let fact, let expected):
                let value = fact == "service_is_critical" ? (critical ? "true" : "false") : nil
                if value == nil || value == (expected?.environmentValue ?? "true") { return "\(fact): \(expected?.environmentValue ?? "true")" }
            }
        }
        return nil
    }
}
