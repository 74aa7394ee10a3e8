import Foundation
import MedicKnowledge

/// A run that has ended, as the learning stage takes it: its journal's records (ending with the
/// run's `run_finished`) and the journal's path (the run is marked recorded beside it).
public struct FinishedRun: Sendable {
    public var records: [JournalRecord]
    public var journal: String

    public init(records: [JournalRecord], journal: String) {
        self.records = records
        self.journal = journal
    }

    /// What the run remediated, as the immune memory learns it: the fault of its incident or
    /// chaos experiment, the steps it ran, whether it succeeded. Nil when it teaches nothing (a
    /// refused run, a run a person started without an incident).
    public var remediation: RemediationOutcome? { ImmuneLearning.outcome(of: records) }

    /// The incident record the run makes; nil when its records have no `run_started` with a plan
    /// or no `run_finished` with an outcome (nothing to record, however often it is tried).
    public var incidentRecord: IncidentRecord? { IncidentRecording.incident(from: records) }
}

/// What the learning stage recorded and learned from a run.
public struct LearningReport: Sendable {
    /// The incident record appended to the history; nil when none was (see `warnings`).
    public var incident: IncidentRecord?
    /// What the run remediated, as the immune memory learned it; nil when the run teaches
    /// nothing or the memory could not learn (see `warnings`).
    public var remediation: RemediationOutcome?
    /// What the memory made of it (none: a failure of a fault it never saw), each change
    /// published on the bus.
    public var memoryChanges: [ImmuneMemoryChange] = []
    /// What went wrong beside the run, in order: a record not written, a memory that did not
    /// learn, a change not published. None of it changes the run.
    public var warnings: [String] = []
}

/// The last stage of a run: the knowledge base learns of it. Appends the run's incident record
/// to the history (and marks the run recorded), then teaches the immune memory what the run
/// remediated and publishes each of the memory's changes on the bus. Called once the run's
/// `run_finished` is on disk (a rollout's run is one incident: never at a target's end); a
/// failure is a warning, never a change to the run.
public struct LearningStage: Sendable {
    /// The incident history and the immune memory learned into.
    public let knowledge: KnowledgeStores
    /// Where the memory's changes are published.
    public let bus: any StepExecutor
    /// The memory learns at the clock's now.
    public let clock: any EngineClock

    public init(knowledge: KnowledgeStores, bus: any StepExecutor, clock: any EngineClock) {
        self.knowledge = knowledge
        self.bus = bus
        self.clock = clock
    }

    public func learn(_ run: FinishedRun) async -> LearningReport {
        var report = LearningReport()
        let (incident, failure) = IncidentRecording.append(run.records, journalPath: run.journal, to: knowledge.records)
        report.incident = incident
        if let failure { report.warnings.append(failure) }
        guard let lesson = run.remediation else { return report }
        let (changes, notLearned) = ImmuneLearning.learn(lesson, into: knowledge.immuneMemory, now: clock.now)
        if let notLearned {
            report.warnings.append(notLearned)
            return report
        }
        report.remediation = lesson
        report.memoryChanges = changes
        report.warnings += await ImmuneLearning.publishingFailures(changes, through: bus)
        return report
    }
}

extension Interpreter {
    /// The learning stage of this interpreter's runs whose journal is at `journal`: its
    /// knowledge stores (else the file-backed ones of the journal's state directory, sharing
    /// the environment's immune memory cache), its bus and clock.
    func learningStage(forJournal journal: String) -> LearningStage {
        LearningStage(knowledge: knowledgeStores(stateDirectory: IncidentRecording.stateDirectory(ofJournal: journal)),
                      bus: executors.bus, clock: clock)
    }
}
