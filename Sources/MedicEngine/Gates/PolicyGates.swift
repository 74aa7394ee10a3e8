import MedicModel

/// Gate 2 (§5.1): what automation may do at the playbook's severity. `auto_remediation:
/// disabled` refuses an automated run; `limited` lets it run only actions of risk `low` that the
/// policy's `allowed_actions` lists; `enabled` passes. A person's run is not automation: it
/// passes, with the policy quoted.
public struct SeverityPolicyGate: Gate {
    public let name = GateID.severityPolicy
    public init() {}

    public func evaluate(_ context: GateContext) -> GateVerdict {
        let severity = context.plan.severity
        // Graceful degradation (docs/health.md) narrows what automation may do at any policy.
        if context.mode == .automated, let suspended = DegradationState.suspension(for: context.plan, stateDirectory: context.stateDirectory) {
            return .refuse(name, suspended)
        }
        guard let policy = context.catalog.policies.severityLevels.first(where: { $0.severity == severity }) else {
            return .pass(name, "no severity policy for \(severity) is loaded")
        }
        let mode = "\(policy.name): auto_remediation \(policy.autoRemediation.rawValue)"
        guard context.mode == .automated else { return .pass(name, "\(mode); it governs automated runs, this one is manual") }
        switch policy.autoRemediation {
        case .enabled:
            return .pass(name, mode)
        case .disabled:
            return .refuse(name, "\(mode): no automated remediation at \(severity); a person may run it")
        case .limited:
            let allowed = Set(policy.allowedActions)
            let outside = context.plan.steps.filter { $0.riskLevel != .low || !allowed.contains($0.action) }
            guard !outside.isEmpty else { return .pass(name, "\(mode); every step is a listed low-risk action") }
            let steps = outside.map { "step \($0.number) (\($0.action), risk \($0.riskLevel.rawValue)\(allowed.contains($0.action) ? "" : ", not listed"))" }
            return .refuse(name, "\(mode): only low-risk actions the policy lists in allowed_actions may run automatically; "
                + "not so: " + steps.joined(separator: ", "))
        }
    }
}

/// Gate 3: who must approve. `safety.require_approval: true` and steps of risk `high` or
/// `critical` need a person's approval (`--approved-by NAME` records it in the journal).
public struct ApprovalGate: Gate {
    public let name = GateID.approval
    public init() {}

    public func evaluate(_ context: GateContext) -> GateVerdict {
        var reasons: [String] = []
        if context.plan.safety.requireApproval { reasons.append("the playbook sets safety.require_approval") }
        let risky = context.plan.steps.filter { $0.riskLevel >= .high }
        if !risky.isEmpty {
            reasons.append(risky.map { "step \($0.number) (\($0.action)) is \($0.riskLevel.rawValue) risk" }.joined(separator: ", "))
        }
        guard !reasons.isEmpty else { return .pass(name, "no approval needed: no high-risk step, require_approval is off") }
        if let approver = context.approvedBy {
            return .pass(name, "approved by \(approver): " + reasons.joined(separator: "; "))
        }
        return GateVerdict(gate: name, decision: .needsApproval, reason: reasons.joined(separator: "; "),
                           needs: ["a person's approval: --approved-by NAME"])
    }
}
