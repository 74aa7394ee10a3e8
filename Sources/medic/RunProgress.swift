import ArgumentParser
import Foundation
import MedicEngine
import MedicModel

/// Prints a run's progress as its journal grows: one line per transition, with marks and
/// colour on a terminal, plain lines otherwise (logs, CI). Silent when `enabled` is false.
final class RunProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let terminal: Bool
    private let enabled: Bool
    private var stepCount = 0
    private var names: [Int: String] = [:]

    init(enabled: Bool, terminal: Bool = isatty(STDOUT_FILENO) == 1) {
        self.enabled = enabled
        self.terminal = terminal
    }

    var observer: @Sendable (JournalRecord) -> Void { { [self] record in self.show(record) } }

    func show(_ record: JournalRecord) {
        guard enabled else { return }
        let text: String? = lock.withLock {
            let line = describe(record)
            guard let rollout = self.rollout else { return line.map { $0 + "\n" } }
            return rolloutOutput(line, rollout: rollout, ended: record.event == .runFinished)
        }
        if let text, !text.isEmpty { writeOut(text) }
        if record.event == .runFinished { lock.withLock { ticker?.cancel(); ticker = nil } }
    }

    // MARK: - Rollout

    /// Where a rollout stands, for its live line (terminal) or its periodic lines (logs).
    private var rollout: PlannedRollout?
    private var stage = 0
    private var running = 0
    private var done = 0
    private var failedTargets = 0
    private var waitingUntil: Date?
    private var lastStatus = Date.distantPast
    private var liveShown = false
    private var ticker: DispatchSourceTimer?

    /// A permanent line (if any) above the live line on a terminal; elsewhere the line, and a
    /// status line at most every 10 seconds while targets run.
    private func rolloutOutput(_ line: String?, rollout: PlannedRollout, ended: Bool) -> String {
        if terminal {
            var out = liveShown ? "\r\u{1B}[K" : ""
            liveShown = false
            if let line { out += line + "\n" }
            if !ended {
                out += status(rollout)
                liveShown = true
            }
            return out
        }
        var out = line.map { $0 + "\n" } ?? ""
        // Wall time, not the run's clock: it only paces how often a person reading a log sees a
        // status line, and decides nothing the journal records.
        if running > 0, Date().timeIntervalSince(lastStatus) >= 10 {
            lastStatus = Date()
            out += status(rollout) + "\n"
        }
        return out
    }

    private func status(_ rollout: PlannedRollout) -> String {
        let total = rollout.targets.count
        let pending = total - done - running
        var text = "  stage \(stage)/\(rollout.stages.count): \(done)/\(total) target(s) done, \(failedTargets) failed, "
            + "\(running) running, \(pending) pending"
        if let until = waitingUntil {
            let left = max(0, Int(until.timeIntervalSinceNow.rounded(.up)))  // a countdown shown, on wall time likewise
            text += " · waiting \(left / 60)m\(String(format: "%02d", left % 60))s before the stage's checks"
        }
        return text
    }

    /// On a terminal, redraws the live line every second (the wait counts down).
    private func startTicker() {
        guard terminal, ticker == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            let text: String? = self.lock.withLock {
                guard self.liveShown, let rollout = self.rollout else { return nil }
                return "\r\u{1B}[K" + self.status(rollout)
            }
            if let text { writeOut(text) }
        }
        ticker = timer
        timer.resume()
    }

    /// https://no-color.org: marks without colour when NO_COLOR is set.
    private let colour = (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty

    private func mark(_ ok: Bool?) -> String {
        guard terminal else { return "" }
        guard colour else { return ok.map { $0 ? "✔ " : "✘ " } ?? "▶ " }
        switch ok {
        case .some(true): return "\u{1B}[32m✔\u{1B}[0m "
        case .some(false): return "\u{1B}[31m✘\u{1B}[0m "
        case .none: return "\u{1B}[36m▶\u{1B}[0m "
        }
    }

    private func describe(_ r: JournalRecord) -> String? {
        if let target = r.target { return describe(r, of: target) }
        switch r.event {
        case .runStarted:
            guard let plan = r.plan else { return nil }
            stepCount = plan.steps.count
            rollout = plan.rollout
            if let rollout = plan.rollout {
                return "Run \(r.run ?? "?"): \(plan.playbookID) \(plan.playbookVersion), \(stepCount) step(s) on "
                    + "\(rollout.targets.count) target(s) in \(rollout.stages.count) stage(s), at most \(rollout.maxConcurrency) at a time"
                    + (r.message.map { " (\($0))" } ?? "")
            }
            for step in plan.steps { names[step.number] = step.name }
            return "Run \(r.run ?? "?"): \(plan.playbookID) \(plan.playbookVersion), \(stepCount) step(s)"
                + (r.message.map { " (\($0))" } ?? "")
        case .gatesEvaluated:
            let verdicts = r.gates ?? []
            let stopping = verdicts.filter { $0.decision != .pass }
            // A run started without the safety gates (the demo, in its sandbox) journals none.
            guard !verdicts.isEmpty else { return "  \(mark(nil))gates: none evaluated for this run" }
            guard !stopping.isEmpty else { return "  \(mark(true))gates: all \(verdicts.count) passed" }
            return stopping.map { "  \(mark(false))gate \($0.gate): \($0.decision.rawValue): \($0.reason)" }.joined(separator: "\n")
        case .approvalRequested:
            return "  \(mark(nil))waiting for approval until \(r.until ?? "?"): needs \((r.needs ?? []).joined(separator: "; "))"
        case .approvalGiven:
            return "  \(mark(true))approved by \(r.by ?? "?")\(r.role.map { " as \($0)" } ?? "")\(r.message.map { ": \($0)" } ?? "")"
        case .approvalDenied:
            return "  \(mark(false))denied by \(r.by ?? "?")\(r.message.map { ": \($0)" } ?? "")"
        case .stepStarted:
            guard let step = r.step, let phase = r.phase else { return nil }
            switch phase {
            case .step:
                let attempt = (r.attempt ?? 1) > 1 ? ", attempt \(r.attempt!)" : ""
                return "  \(mark(nil))step \(step)/\(stepCount) \(names[step] ?? ""): started\(attempt)"
            case .verification: return terminal ? nil : "  step \(step)/\(stepCount): checking the action's verification"
            case .rollback: return "  \(mark(nil))rollback: undoing step \(step) \(names[step] ?? "")"
            case .escalation: return nil
            }
        case .stepFinished:
            guard let step = r.step, let phase = r.phase, let result = r.result else { return nil }
            let timing = "\(result.summary), \(String(format: "%.2f", result.seconds))s"
            switch phase {
            case .step:
                return "  \(mark(result.succeeded))step \(step)/\(stepCount) \(names[step] ?? ""): \(result.succeeded ? "ok" : "FAILED") (\(timing))"
                    + (result.succeeded || result.stderr.isEmpty ? "" : "\n      " + lastLine(result.stderr))
            case .verification:
                return "  \(mark(result.succeeded))step \(step)/\(stepCount): action verification \(result.succeeded ? "passed" : "FAILED") (\(timing))"
            case .rollback:
                return "  \(mark(result.succeeded))rollback of step \(step): \(result.succeeded ? "ok" : "FAILED") (\(timing))"
            case .escalation:
                return "  escalation event: \(result.summary)"
            }
        case .retryScheduled:
            return "  step \(r.step ?? 0)/\(stepCount): retry \(r.attempt ?? 0) in \(String(format: "%.1f", r.delay ?? 0))s"
        case .stepSkipped:
            return "  step \(r.step ?? 0)/\(stepCount): \(r.message ?? "skipped")"
        case .verificationStarted:
            return "  \(mark(nil))verification: \(r.message ?? "")"
        case .verificationFinished:
            guard let report = r.verification else { return nil }
            return "  \(mark(report.state == .success ? true : report.state == .failed ? false : nil))verification: \(report.state.rawValue): \(report.summary)"
        case .rollbackStarted:
            return "  rollback: \(r.message ?? ""); \((r.rollback ?? []).count) item(s) to undo"
        case .rollbackFinished:
            return "  \(mark(r.outcome == .rolledBack))rollback: \(r.message ?? "")"
        case .escalated:
            let who = (r.notify ?? []).isEmpty ? "" : " (notify \((r.notify ?? []).joined(separator: ", ")))"
            return "  escalated\(who): \(r.message ?? "")"
        case .runInterrupted:
            return "  interrupted: \(r.message ?? "")"
        case .runResumed:
            return "Resumed: \(r.message ?? "")"
        case .orphansFound, .orphansEnded:
            return "  \(r.message ?? "")"
        case .stepProcess:
            return nil
        case .runFinished:
            let outcome = r.outcome?.rawValue ?? "?"
            return "\(mark(r.outcome == .succeeded))Outcome: \(outcome) — \(r.message ?? "")"
        case .baselineRecorded:
            return "  baseline: \(r.message ?? "")"
        case .stageStarted:
            stage = r.stage ?? stage
            waitingUntil = nil
            startTicker()
            return "  \(mark(nil))stage \(stage)/\(rollout?.stages.count ?? 0) \(r.message ?? "")"
        case .stageWaiting:
            waitingUntil = r.until.flatMap(Self.date)
            return "  stage \(r.stage ?? 0): waiting \(Interval(seconds: r.delay ?? 0)) before its checks (until \(r.until ?? "?"))"
        case .stageChecked:
            waitingUntil = nil
            return "  \(mark(r.passed ?? false))stage \(r.stage ?? 0) checks \(r.passed == true ? "passed" : "FAILED"): \(r.message ?? "")"
        case .rolloutAborted:
            return "  \(mark(false))rollout aborted: \(r.message ?? ""); undoing \((r.targets ?? []).count) target(s), newest first"
        case .targetStarted, .targetFinished:
            return nil
        }
    }

    /// A target's records: counted for the status; only a target that did not succeed, or an
    /// undo that failed, gets a line of its own.
    private func describe(_ r: JournalRecord, of target: String) -> String? {
        switch r.event {
        case .targetStarted:
            running += 1
        case .targetFinished:
            running = max(0, running - 1)
            done += 1
            if r.outcome != .succeeded {
                failedTargets += 1
                return "  \(mark(false))target \(target): \(r.outcome?.rawValue ?? "?"): \(r.message ?? "")"
            }
        case .rollbackFinished where r.outcome != .rolledBack:
            return "  \(mark(false))target \(target): rollback failed: \(r.message ?? "")"
        case .runResumed, .orphansFound, .orphansEnded:
            return "  target \(target): \(r.message ?? "")"
        default:
            break
        }
        return nil
    }

    private static func date(_ text: String) -> Date? {
        try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }

    private func lastLine(_ text: String) -> String {
        String(text.split(separator: "\n").last ?? "").trimmingCharacters(in: .whitespaces)
    }
}

/// The shared end of `run`, `resume` and `demo`: progress lines (none with --json), the stop
/// signals, a journal failure reported as such (exit 1), the JSON report when asked for.
enum RunOutput {
    static func carryOut(json: Bool, stopping engine: EngineEnvironment,
                         _ start: (@escaping @Sendable (JournalRecord) -> Void) async throws -> RunReport)
        async throws -> RunReport
    {
        StopSignals.install(stopping: engine)
        let report: RunReport
        do {
            report = try await start(RunProgress(enabled: !json).observer)
        } catch let error as JournalError {
            StopSignals.waitIfStopping(engine)
            throw CommandFailure("error: \(error.description)")
        }
        if json {
            writeOut(RunRenderer.json(report))
        } else if let rollout = report.rollout {
            writeOut(RunRenderer.rolloutTable(rollout))
        }
        return report
    }
}
