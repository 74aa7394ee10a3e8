import Foundation
import MedicModel

/// Safe mode (§7.3): `medic safe-mode on|off --by NAME`, one file `safe-mode.json` in the state
/// directory, audited like the kill switch.
public struct SafeMode: Sendable {
    public struct Setting: Sendable, Hashable, Codable {
        public var by: String
        public var reason: String?
        public var at: String
    }

    public let stateDirectory: String
    var path: String { stateDirectory + "/safe-mode.json" }

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// Who switched safe mode on, if it is on. An unreadable file counts as on.
    public func status() -> Setting? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONDecoder().decode(Setting.self, from: data)) ?? Setting(by: "unknown", reason: "\(path) is unreadable", at: "?")
    }

    public func switchOn(by: String, reason: String?, now: Date = Date()) throws {
        let setting = Setting(by: by, reason: reason, at: JournalRecord.timestamp(now))
        try StateFiles.writeAtomically(try JSONEncoder().encode(setting), to: path)
        try StateFiles.audit(in: stateDirectory, ["event": "safe_mode_on", "by": by, "reason": reason ?? "", "at": setting.at])
    }

    @discardableResult
    public func switchOff(by: String, reason: String? = nil, now: Date = Date()) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        try FileManager.default.removeItem(atPath: path)
        try StateFiles.audit(in: stateDirectory, ["event": "safe_mode_off", "by": by, "reason": reason ?? "", "at": JournalRecord.timestamp(now)])
        return true
    }
}

/// Gate (§7.3, "safe mode"): a run in safe mode may reach one instance of one service and needs a
/// person's approval. Safe mode applies when it is switched on, and to an automated run of a
/// playbook with no history here, a new incident type: no run of it has succeeded in this state
/// directory (until the knowledge base holds incident history, a playbook's own runs are its
/// history). A person's run is not an incident: only the switch puts it in safe mode.
public struct SafeModeGate: Gate {
    public let name = "safe_mode"
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        var why: String?
        if let setting = SafeMode(stateDirectory: context.stateDirectory).status() {
            why = "safe mode is on (by \(setting.by) at \(setting.at)\(setting.reason.map { ": \($0)" } ?? ""))"
        } else if context.mode == .automated {
            let succeeded = (context.history ?? RunStore.history(in: context.stateDirectory))
                .contains { $0.playbookID == context.plan.playbookID && $0.outcome == .succeeded }
            if !succeeded { why = "a new incident type: no run of \(context.plan.playbookID) has succeeded here yet" }
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
