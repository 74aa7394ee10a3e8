import Foundation
import MedicModel

/// Gate (§7.3, "safe mode"; switched by `OperatorSwitch.safeMode`): a run in safe mode may reach one instance of one service and needs a
/// person's approval. Safe mode applies when it is switched on, and to an automated run of a
/// playbook with no history here, a new incident type: no run of it has succeeded in this state
/// directory (until the knowledge base holds incident history, a playbook's own runs are its
/// history). A person's run is not an incident: only the switch puts it in safe mode.
public struct SafeModeGate: Gate {
    public let name = GateID.safeMode
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        var why: String?
        if let setting = await context.flags.setting(.safeMode) {
            why = "safe mode is on (by \(setting.by) at \(setting.at)\(setting.reason.map { ": \($0)" } ?? ""))"
        } else if context.mode == .automated {
            if !context.runHistory.hasSucceeded(context.plan.playbookID) { why = "a new incident type: no run of \(context.plan.playbookID) has succeeded here yet" }
        }
        guard let why else { return .pass(name, context.mode == .automated ? "off; the playbook has succeeded here before" : "off") }
        let reach = BlastRadiusEstimate(plan: context.plan)
        if reach.instances > 1 || reach.services > 1 {
            return .refuse(name, "\(why): safe mode allows one instance of one service, this run reaches "
                + "\(reach.instances) instance(s) of \(reach.services) service(s); pick one with --target")
        }
        if let approver = context.approvedBy { return .pass(name, "\(why); one instance, approved by \(approver)") }
        return GateVerdict(gate: name, decision: .needsApproval, reason: "\(why); one instance, approval required",
                           needs: ["a person's approval: --approved-by NAME"])
    }
}
