import Foundation
import MedicModel

/// How a remediation turned out (§8.3).
public enum VerificationState: String, Sendable, Hashable, Codable {
    /// The check held the required number of times in a row.
    case success = "SUCCESS"
    /// The check held at least once, but never the required number of times in a row.
    case partialSuccess = "PARTIAL_SUCCESS"
    /// The check never held: every evaluation was decided, and failed.
    case failed = "FAILED"
    /// The check never held and at least one evaluation could not be decided (a metric could
    /// not be read), or verification was cancelled.
    case uncertain = "UNCERTAIN"
}

/// What verification saw: its state, every evaluation in order, and one line for people.
public struct VerificationReport: Sendable, Hashable, Codable {
    /// One evaluation of the check.
    public struct Check: Sendable, Hashable, Codable {
        /// When the evaluation started, by the verifier's clock.
        public var at: Date
        public var result: ConditionResult

        public init(at: Date, result: ConditionResult) {
            self.at = at
            self.result = result
        }
    }

    public var state: VerificationState
    public var checks: [Check]
    public var summary: String

    public init(state: VerificationState, checks: [Check], summary: String) {
        self.state = state
        self.checks = checks
        self.summary = summary
    }
}

/// Runs a playbook's `verification` (§8): waits, then evaluates the check on a schedule.
///
/// With N = `consecutive_checks` (default 1):
/// - `interval`, the time between evaluations, defaults to `window` / N, or 30 s without a window;
/// - `window` defaults to N intervals. A round is one window: `window` / `interval` evaluations
///   (at least N), the first at the round's start;
/// - `retry: R` allows R more rounds after a round that did not succeed (default 0). Every
///   evaluation after the first waits `interval` after the start of the one before it, also
///   across rounds; a run of holds does not carry over into the next round.
///
/// The verifier first waits `wait_time`, then evaluates. It stops with SUCCESS as soon as the
/// check has held N times in a row within a round, and ends a round early once N in a row can no
/// longer fit in it. When the rounds are spent: PARTIAL_SUCCESS if the check held at least once;
/// FAILED if every evaluation failed; UNCERTAIN if it never held and some evaluation was unknown.
/// A cancelled verification is UNCERTAIN. The interpreter decides what to do with UNCERTAIN
/// (verify again, ask a person); the verifier does not extend itself.
public struct Verifier: Sendable {
    public let evaluator: ConditionEvaluator
    public let clock: any EngineClock

    public init(evaluator: ConditionEvaluator, clock: any EngineClock) {
        self.evaluator = evaluator
        self.clock = clock
    }

    /// The evaluation schedule a verification block asks for, defaults filled in.
    public struct Schedule: Sendable, Hashable {
        public var waitTime: Double
        public var required: Int
        public var interval: Double
        public var checksPerRound: Int
        public var rounds: Int

        public init(_ v: Verification) {
            waitTime = max(0, v.waitTime?.seconds ?? 0)
            required = max(1, v.consecutiveChecks ?? 1)
            interval = max(0, v.interval?.seconds ?? v.window.map { $0.seconds / Double(max(1, v.consecutiveChecks ?? 1)) } ?? 30)
            let window = v.window?.seconds ?? Double(required) * interval
            // A small tolerance so that 5m / 30s is 10 evaluations, not 9.999.
            let fitting = interval > 0 ? Int(min(1e6, (window / interval + 1e-9).rounded(.down))) : required
            checksPerRound = max(required, fitting)
            rounds = 1 + max(0, v.retry ?? 0)
        }
    }

    /// Verifies once. `parameters` fill `${name}` in the check's label values (and bare
    /// references named like a parameter). `expectedRecovery`, the recovery the steps promised
    /// in percent, is quoted in the summary; it does not change the state, since no value from
    /// before the remediation is at hand to measure improvement against.
    public func verify(_ v: Verification, parameters: [String: String], expectedRecovery: Double? = nil) async -> VerificationReport {
        let schedule = Schedule(v)
        var checks: [VerificationReport.Check] = []
        var lastStart: Date?
        do {
            if schedule.waitTime > 0 { try await clock.sleep(seconds: schedule.waitTime) }
            for _ in 1...schedule.rounds {
                var streak = 0
                for index in 0..<schedule.checksPerRound {
                    if let lastStart {
                        let wait = schedule.interval - clock.now.timeIntervalSince(lastStart)
                        if wait > 0 { try await clock.sleep(seconds: wait) }
                    }
                    try Task.checkCancellation()
                    let start = clock.now
                    lastStart = start
                    let result = await evaluator.evaluate(v.check, parameters: parameters)
                    checks.append(.init(at: start, result: result))
                    if case .holds = result {
                        streak += 1
                        if streak == schedule.required {
                            return report(.success, checks, schedule, expectedRecovery)
                        }
                    } else {
                        streak = 0
                    }
                    // N in a row no longer fits in what is left of this round.
                    if schedule.checksPerRound - (index + 1) < schedule.required - streak { break }
                }
            }
        } catch {
            return VerificationReport(state: .uncertain, checks: checks,
                                      summary: "verification was cancelled after \(checks.count) check(s)")
        }
        let held = checks.filter { if case .holds = $0.result { true } else { false } }.count
        let unknown = checks.filter { if case .unknown = $0.result { true } else { false } }.count
        let state: VerificationState = held > 0 ? .partialSuccess : unknown == 0 ? .failed : .uncertain
        return report(state, checks, schedule, expectedRecovery)
    }

    private func report(_ state: VerificationState, _ checks: [VerificationReport.Check], _ schedule: Schedule,
                        _ expectedRecovery: Double?) -> VerificationReport {
        let held = checks.filter { if case .holds = $0.result { true } else { false } }.count
        let unknown = checks.filter { if case .unknown = $0.result { true } else { false } }.count
        let times = "\(checks.count) evaluation\(checks.count == 1 ? "" : "s")"
        var summary: String = switch state {
        case .success where schedule.required == 1:
            "the check held (\(times))"
        case .success:
            "the check held \(schedule.required) times in a row (\(times))"
        case .partialSuccess:
            "the check held \(held) of \(times) but never \(schedule.required) in a row"
        case .failed:
            "the check failed all \(times)"
        case .uncertain:
            "the check never held; \(unknown) of \(times) could not be decided"
        }
        if let last = checks.last?.result {
            switch last {
            case .holds(let observed), .fails(let observed): if !observed.isEmpty { summary += "; last: \(observed)" }
            case .unknown(let reason): summary += "; last: \(reason)"
            }
        }
        if let expectedRecovery { summary += " (steps expected \(Interval.trim(expectedRecovery))% recovery)" }
        return VerificationReport(state: state, checks: checks, summary: summary)
    }
}
