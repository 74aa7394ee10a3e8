import Foundation

/// How an experiment ended.
public enum ChaosOutcome: String, Sendable, Codable {
    /// Detected, remediated by the expected playbook, and the steady state verified again.
    case healed
    /// No incident of the detection rule before `detection.within`.
    case notDetected = "not_detected"
    /// Detected, but no run healed it (it failed, waited for approval, another playbook ran,
    /// or the steady state did not come back) before `recovery.within`.
    case notHealed = "not_healed"
    /// Stopped early: a signal, a pause, the blast radius grew, the injection failed.
    case aborted
    /// The steady state did not hold before the fault: nothing was injected.
    case steadyStateNotMet = "steady_state_not_met"
    /// Refused before anything ran: a target not allowed, Medic paused.
    case refused
}

/// An incident the watch raised during an experiment.
public struct ChaosIncident: Sendable, Codable, Hashable {
    public var rule: String
    public var incidentKey: String
    /// Seconds since 1970, when Medic learnt of it.
    public var at: Double
    /// Raised by the experiment's detection rule after the fault: what the fault explains.
    public var explained: Bool
    /// Raised in the quiet control period before the fault.
    public var control: Bool

    private enum CodingKeys: String, CodingKey { case rule, incidentKey = "incident_key", at, explained, control }
}

/// A remediation run the watch started during an experiment.
public struct ChaosRemediationRun: Sendable, Codable, Hashable {
    public var run: String
    public var playbook: String
    public var outcome: String?
    public var message: String?
}

/// What `medic chaos run` reports (also one line of `knowledge/chaos-experiments.jsonl`).
public struct ChaosReport: Sendable, Codable {
    public var experiment: String
    public var title: String
    public var file: String
    public var format: ChaosExperiment.Format
    public var faultType: String
    public var pattern: String
    public var targets: [String]
    public var outcome: ChaosOutcome
    public var reason: String
    public var healed: Bool { outcome == .healed }
    /// Every revert activity succeeded (or no fault was injected).
    public var reverted: Bool
    /// Every teardown activity succeeded.
    public var cleanedUp: Bool
    public var startedAt: Double
    public var faultAt: Double?
    public var detectedAt: Double?
    public var remediatedAt: Double?
    public var verifiedAt: Double?
    /// Fault → incident; fault → steady state verified again; incident → verified (§10.1's MTTR).
    public var timeToDetect: Double? { faultAt.flatMap { fault in detectedAt.map { $0 - fault } } }
    public var timeToRecover: Double? { faultAt.flatMap { fault in verifiedAt.map { $0 - fault } } }
    public var timeToRemediate: Double? { detectedAt.flatMap { detected in verifiedAt.map { $0 - detected } } }
    public var incidents: [ChaosIncident] = []
    public var runs: [ChaosRemediationRun] = []
    public var steadyState: [ChaosActivityResult] = []
    public var revert: [ChaosActivityResult] = []
    public var unsupported: [String] = []
    public var journal: String
    /// The signal that stopped the experiment, if one did.
    public var signal: Int32?

    public init(_ experiment: ChaosExperiment, outcome: ChaosOutcome, reason: String, startedAt: Double, journal: String) {
        self.experiment = experiment.id
        self.title = experiment.title
        self.file = experiment.file
        self.format = experiment.format
        self.faultType = experiment.faultType
        self.pattern = experiment.pattern
        self.targets = experiment.targets.map(\.name)
        self.outcome = outcome
        self.reason = reason
        self.reverted = true
        self.cleanedUp = true
        self.startedAt = startedAt
        self.unsupported = experiment.unsupported
        self.journal = journal
    }

    /// 0: healed and reverted (and cleaned up); else 1.
    public var exitCode: Int32 { healed && reverted && cleanedUp ? 0 : 1 }

    private enum CodingKeys: String, CodingKey {
        case experiment, title, file, format, faultType = "fault_type", pattern, targets, outcome, reason, healed, reverted
        case cleanedUp = "cleaned_up", startedAt = "started_at", faultAt = "fault_at", detectedAt = "detected_at"
        case remediatedAt = "remediated_at", verifiedAt = "verified_at", timeToDetect = "time_to_detect"
        case timeToRecover = "time_to_recover", timeToRemediate = "time_to_remediate", incidents, runs
        case steadyState = "steady_state", revert, unsupported, journal, signal
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(experiment, forKey: .experiment)
        try c.encode(title, forKey: .title)
        try c.encode(file, forKey: .file)
        try c.encode(format, forKey: .format)
        try c.encode(faultType, forKey: .faultType)
        try c.encode(pattern, forKey: .pattern)
        try c.encode(targets, forKey: .targets)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(reason, forKey: .reason)
        try c.encode(healed, forKey: .healed)
        try c.encode(reverted, forKey: .reverted)
        try c.encode(cleanedUp, forKey: .cleanedUp)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(faultAt, forKey: .faultAt)
        try c.encode(detectedAt, forKey: .detectedAt)
        try c.encode(remediatedAt, forKey: .remediatedAt)
        try c.encode(verifiedAt, forKey: .verifiedAt)
        try c.encode(timeToDetect, forKey: .timeToDetect)
        try c.encode(timeToRecover, forKey: .timeToRecover)
        try c.encode(timeToRemediate, forKey: .timeToRemediate)
        try c.encode(incidents, forKey: .incidents)
        try c.encode(runs, forKey: .runs)
        try c.encode(steadyState, forKey: .steadyState)
        try c.encode(revert, forKey: .revert)
        try c.encode(unsupported, forKey: .unsupported)
        try c.encode(journal, forKey: .journal)
        try c.encodeIfPresent(signal, forKey: .signal)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        experiment = try c.decode(String.self, forKey: .experiment)
        title = try c.decode(String.self, forKey: .title)
        file = try c.decode(String.self, forKey: .file)
        format = try c.decode(ChaosExperiment.Format.self, forKey: .format)
        faultType = try c.decode(String.self, forKey: .faultType)
        pattern = try c.decode(String.self, forKey: .pattern)
        targets = try c.decode([String].self, forKey: .targets)
        outcome = try c.decode(ChaosOutcome.self, forKey: .outcome)
        reason = try c.decode(String.self, forKey: .reason)
        reverted = try c.decode(Bool.self, forKey: .reverted)
        cleanedUp = try c.decode(Bool.self, forKey: .cleanedUp)
        startedAt = try c.decode(Double.self, forKey: .startedAt)
        faultAt = try c.decodeIfPresent(Double.self, forKey: .faultAt)
        detectedAt = try c.decodeIfPresent(Double.self, forKey: .detectedAt)
        remediatedAt = try c.decodeIfPresent(Double.self, forKey: .remediatedAt)
        verifiedAt = try c.decodeIfPresent(Double.self, forKey: .verifiedAt)
        incidents = try c.decode([ChaosIncident].self, forKey: .incidents)
        runs = try c.decode([ChaosRemediationRun].self, forKey: .runs)
        steadyState = try c.decode([ChaosActivityResult].self, forKey: .steadyState)
        revert = try c.decode([ChaosActivityResult].self, forKey: .revert)
        unsupported = try c.decode([String].self, forKey: .unsupported)
        journal = try c.decode(String.self, forKey: .journal)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
    }
}
