import Foundation
import MedicModel

/// Who has approved a run waiting for approval: `approvedBy` (anyone who approved) and the
/// sign-offs given by role.
public struct Approvals: Sendable, Hashable {
    public var approvedBy: String?
    public var signOffs: [String: String]
}

extension Interpreter {
    /// Records an approval of a run that is `pending_approval` (`by`, for `role` when it is a
    /// sign-off), in its journal and in `audit`. Then `regate` evaluates the gates
    /// again, in the run's mode, with every approval given so far; when they all pass, the run is
    /// carried out from its first step in this process; when approval is still missing it stays
    /// pending; a refusal (a pause, a lock, a breaker opened since) ends it `refused`. A request
    /// past its expiry ends the run `refused` instead.
    public func approve(_ runID: String, in store: any RunStoring, audit: any AuditLog, by: String, role: String? = nil,
                        reason: String? = nil, locks: (any TargetLocking)? = nil,
                        regate: @Sendable (Plan, RunMode, Approvals) async -> [GateVerdict],
                        observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await decide(runID, in: store, observe: observe) { execution in
            try await execution.append(.approvalGiven(by: by, role: role, message: reason))
            try await audit.record([
                "event": "approved", "run": execution.journal.runID, "playbook": execution.plan.playbookID, "by": by,
                "role": role ?? "", "reason": reason ?? "", "at": JournalRecord.timestamp(clock.now),
            ])
            let mode = execution.records.first { $0.event == .runStarted }?.mode ?? .manual
            let verdicts = await regate(execution.plan, mode, Self.approvals(in: execution.records))
            // Still short of an approval or a sign-off: the run keeps waiting.
            guard GatePipeline.blocking(verdicts)?.decision != .needsApproval else { return }
            try await execution.admit(verdicts, locks: locks, lockWait: 0, approvalTTL: 3600)
        }
    }

    /// Refuses a run that is `pending_approval`: journaled, recorded in `audit`, and the run ends `refused`.
    public func deny(_ runID: String, in store: any RunStoring, audit: any AuditLog, by: String, reason: String? = nil,
                     observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await decide(runID, in: store, observe: observe) { execution in
            try await execution.append(.approvalDenied(by: by, message: reason))
            try await audit.record([
                "event": "denied", "run": execution.journal.runID, "playbook": execution.plan.playbookID, "by": by,
                "reason": reason ?? "", "at": JournalRecord.timestamp(clock.now),
            ])
            try await execution.finish(.refused, "denied by \(by)" + (reason.map { ": \($0)" } ?? ""))
        }
    }

    /// Opens a pending run under its lock, ends it if its request expired, else applies `body`.
    private func decide(_ runID: String, in store: any RunStoring, observe: (@Sendable (JournalRecord) -> Void)?,
                        _ body: (inout RunExecution) async throws -> Void) async throws -> RunReport {
        let id = try await store.resolve(runID)
        guard let (journal, lock, contents) = try await store.reopen(runID: id) else {
            throw JournalError("run \(id) is in use by another process")
        }
        guard RunStore.status(of: contents.records) == .pendingApproval else {
            throw JournalError("run \(id) is not waiting for approval (\(RunStore.status(of: contents.records).rawValue))")
        }
        if let observe {
            if let started = contents.records.first(where: { $0.event == .runStarted }) { observe(started) }
            journal.observe(observe)
        }
        var execution = RunExecution(interpreter: self, journal: journal, records: contents.records)
        let request = contents.records.last { $0.event == .approvalRequested }
        if let until = request?.until, let deadline = JournalRecord.date(until), clock.now > deadline {
            try await execution.finish(.refused, "the approval request expired at \(until); run the playbook again to ask anew")
        } else {
            try await body(&execution)
        }
        withExtendedLifetime(lock) {}
        return RunReport(records: execution.records, journal: journal.path)
    }

    /// The approvals given since the run last asked for approval.
    static func approvals(in records: [JournalRecord]) -> Approvals {
        let since = records.lastIndex { $0.event == .approvalRequested } ?? records.startIndex
        var approvals = Approvals(approvedBy: nil, signOffs: [:])
        for record in records[since...] where record.event == .approvalGiven {
            guard let by = record.by else { continue }
            if approvals.approvedBy == nil { approvals.approvedBy = by }
            if let role = record.role, !role.isEmpty { approvals.signOffs[role] = by }
        }
        return approvals
    }
}
