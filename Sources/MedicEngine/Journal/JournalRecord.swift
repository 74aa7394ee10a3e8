import Foundation
import MedicModel
import MedicText

/// One transition of a run, as one line of its journal. Every record has `seq`, `at` and
/// `event`; the other fields belong to some events only (see `Event`).
public struct JournalRecord: Sendable, Hashable, Codable {
    public enum Event: String, Sendable, Hashable, Codable, CaseIterable {
        /// `run`, `plan`, `mode`, `pid`, `host`, `seed`, `message` (who approved, when given).
        case runStarted = "run_started"
        /// `gates`: every gate's verdict, before the first step.
        case gatesEvaluated = "gates_evaluated"
        /// Intent, written before the executor is asked: `step`, `phase`, `attempt`, `idempotent`, `item` (rollback).
        case stepStarted = "step_started"
        /// Outcome: `step`, `phase`, `attempt`, `item`, `result`.
        case stepFinished = "step_finished"
        /// A shell step's process exists: `step`, `phase`, `attempt`, `item`, `processes` (the
        /// shell's identity). Written right after it started, without waiting for the disk (a
        /// power cut that loses it ends the process too).
        case stepProcess = "step_process"
        /// Resume found processes that the run's earlier attempt left running: `processes`,
        /// `until` (the earliest of their steps' timeouts), `message`. Before it waits.
        case orphansFound = "orphans_found"
        /// They are gone: `message` says whether they ended by themselves or were stopped.
        case orphansEnded = "orphans_ended"
        /// `step`, `attempt` (the next one), `delay` seconds.
        case retryScheduled = "retry_scheduled"
        /// `message`: why a failed step does not stop the run (`on_failure: continue`).
        case stepSkipped = "step_skipped"
        case verificationStarted = "verification_started"
        /// `verification`.
        case verificationFinished = "verification_finished"
        /// `rollback`: the items to undo, in order; `message`: why.
        case rollbackStarted = "rollback_started"
        /// `message`; `outcome` is `rolled_back` or `rollback_failed`.
        case rollbackFinished = "rollback_finished"
        /// `message`: why; `notify`: who.
        case escalated
        /// Written by the next Medic that finds the run's process gone: `message`, `pid`.
        case runInterrupted = "run_interrupted"
        /// `pid`, `message` (what resume decided about the step in flight).
        case runResumed = "run_resumed"
        /// A gate needs approval: `needs` (what is missing), `until` (when the request expires), `message`.
        case approvalRequested = "approval_requested"
        /// `by`, `role` (for a sign-off), `message` (why).
        case approvalGiven = "approval_given"
        /// `by`, `message`; the run then ends `refused`.
        case approvalDenied = "approval_denied"
        /// `outcome`, `message`.
        case runFinished = "run_finished"

        // A rollout (a plan with targets). Records of one target's steps, retries and rollback
        // carry its name in `target`; those without `target` belong to the run as a whole.

        /// Before stage 1: `baseline`, the value of each series a `NAME_increase` check compares
        /// with (a resumed run compares with the same values); `message` names any unreadable one.
        case baselineRecorded = "baseline_recorded"
        /// `stage`, `targets` (the stage's own), `message`.
        case stageStarted = "stage_started"
        /// Intent, written with the target's first `step_started`: `target`, `stage`.
        case targetStarted = "target_started"
        /// `target`, `outcome` (`succeeded`, `failed`, `rolled_back`, `rollback_failed`, `escalated`), `message`.
        case targetFinished = "target_finished"
        /// After a stage, before its checks: `stage`, `until` (when the wait ends), `delay` seconds.
        case stageWaiting = "stage_waiting"
        /// `stage`, `passed`, `message` (the checks' verdicts and values, the failure count).
        case stageChecked = "stage_checked"
        /// No further target starts: `message` (why), `states` (each target's state), `targets`
        /// (those to undo, in order).
        case rolloutAborted = "rollout_aborted"
    }

    public var seq: Int
    /// RFC 3339 UTC with milliseconds.
    public var at: String
    public var event: Event
    public var run: String?
    public var plan: Plan?
    public var pid: Int32?
    public var host: String?
    public var seed: UInt64?
    public var step: Int?
    public var phase: ExecutionPurpose?
    /// The index of a rollback item in `rollback` of the latest `rollback_started`.
    public var item: Int?
    public var attempt: Int?
    public var idempotent: Bool?
    public var result: ExecutionResult?
    public var delay: Double?
    public var verification: VerificationReport?
    public var rollback: [RollbackItem]?
    public var notify: [String]?
    public var gates: [GateVerdict]?
    public var outcome: RunOutcome?
    public var message: String?
    public var needs: [String]?
    public var until: String?
    /// `run_started`: who started the run (the gates are stricter with automation).
    public var mode: RunMode?
    public var by: String?
    public var role: String?
    /// The target a record of a rollout belongs to; nil for the run as a whole.
    public var target: String?
    /// The 1-based stage of a rollout.
    public var stage: Int?
    public var targets: [String]?
    /// `baseline_recorded`: series (as written, `error_rate{service="web"}`) -> value.
    public var baseline: [String: Double]?
    public var passed: Bool?
    /// `rollout_aborted`: target -> `succeeded`, `failed`, `not_started` ...
    public var states: [String: String]?
    /// `run_started` of a run a rule started (`medic watch`): the incident, for MTTD.
    public var detection: Detection?
    /// `run_started` of a run of a chaos experiment (`medic run --chaos-experiment`).
    public var chaos: ChaosRun?
    /// `step_process`: the step's shell; `orphans_found`: what an earlier attempt left running.
    public var processes: [StepProcess]?

    /// Not public: outside MedicEngine a record is built whole, by its event's factory
    /// (`JournalRecord+Events.swift`).
    init(event: Event, seq: Int = 0, at: String = "") {
        self.event = event
        self.seq = seq
        self.at = at
    }
}

/// One thing to undo, in the order a rollback runs them.
public struct RollbackItem: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The `rollback` script of the action of a step that ran.
        case actionRollback = "action_rollback"
        /// One of the playbook's `rollback.steps`.
        case playbookStep = "playbook_step"
    }

    public var kind: Kind
    /// The step undone (`action_rollback`) or the rollback step's number (`playbook_step`).
    public var step: Int
    public var name: String

    public init(kind: Kind, step: Int, name: String) {
        self.kind = kind
        self.step = step
        self.name = name
    }
}

/// How a run ended.
public enum RunOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every step ran and verification (if any) said SUCCESS.
    case succeeded
    /// A safety gate stopped the run before its first step (refused, needs approval, deferred).
    case refused
    /// Verification said PARTIAL_SUCCESS: better, not resolved; escalated to keep watching.
    case partiallySucceeded = "partially_succeeded"
    /// A step or verification failed and nothing was rolled back (none available, or abort).
    case failed
    /// A failure was undone by the rollback.
    case rolledBack = "rolled_back"
    /// A failure, and the rollback failed too (§9: "failed AND rollback failed").
    case rollbackFailed = "rollback_failed"
    /// The outcome could not be determined (UNCERTAIN verification, a step whose effect is
    /// unknown after a crash): handed to people.
    case escalated

    /// Exit status of `medic run` / `medic resume` for this outcome.
    public var exitCode: Int32 { self == .succeeded ? 0 : 1 }
}

extension JournalRecord {
    /// `at` for now, in the journal's spelling: `2026-11-23T10:15:00.000Z` (UTC, milliseconds
    /// cut, the text `Date.ISO8601FormatStyle(includingFractionalSeconds: true)` wrote).
    public static func timestamp(_ date: Date) -> String {
        Timestamp(date)?.rfc3339() ?? date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// The date an `at` (or any journal time, RFC 3339) stands for; nil for text that is not one.
    public static func date(_ timestamp: String) -> Date? {
        Timestamp(rfc3339: timestamp)?.date
    }
}

/// What started an automated run: the incident an anomaly rule raised. With the run's own times
/// it gives time to detect (`fired_at` - `first_seen`) and time to act (`detected_at` to the
/// first step).
/// A run carried out as part of a chaos experiment: which one, and the fault it injected, which
/// the run's outcome teaches the immune memory (origin `chaos_experiment`).
public struct ChaosRun: Sendable, Hashable, Codable {
    public var experimentID: String
    /// The fault injected; nil when not given (the run is recorded, the memory not taught).
    public var fault: IncidentFault?

    public init(experimentID: String, fault: IncidentFault? = nil) {
        self.experimentID = experimentID
        self.fault = fault
    }
}

public struct Detection: Sendable, Hashable, Codable {
    public var rule: String
    public var incidentKey: String
    public var series: String
    public var value: Double
    public var severity: Severity
    /// When the anomaly began and when the rule's `for` was complete: sample times, RFC 3339.
    public var firstSeen: String
    public var firedAt: String
    /// When Medic acted on it (the wall clock), RFC 3339.
    public var detectedAt: String
    /// The fault as the immune memory knows it; the run's outcome teaches the memory (issue 7).
    public var signature: IncidentFault? = nil

    public init(rule: String, incidentKey: String, series: String, value: Double, severity: Severity, firstSeen: Date,
                firedAt: Date, detectedAt: Date) {
        self.rule = rule
        self.incidentKey = incidentKey
        self.series = series
        self.value = value
        self.severity = severity
        self.firstSeen = JournalRecord.timestamp(firstSeen)
        self.firedAt = JournalRecord.timestamp(firedAt)
        self.detectedAt = JournalRecord.timestamp(detectedAt)
    }
}
