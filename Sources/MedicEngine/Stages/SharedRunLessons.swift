import Foundation
import MedicKnowledge

/// What a knowledge base has learned of runs it did not see finish: when several Medics share
/// one run store (a database), each keeps its own knowledge base and learns from it every run
/// that ended anywhere, so each ranks and remembers from every run, and a dead instance's
/// lessons are not lost with it (its runs are in the store).
///
/// Guarantee: a run is learned at most once per knowledge base by this value (its incident
/// record's run id is looked for in the history, as read up to the moment of the learning), and
/// its memory's changes are not published again (the instance that finished the run published
/// them). A run learned here and by its own instance at the same instant could be recorded
/// twice: the caller leaves runs that just finished to their instance (`SharedRunLearning`).
public struct SharedRunLessons: Sendable {
    public let knowledge: KnowledgeStores
    public let clock: any EngineClock
    /// The run ids of the history, as read up to `position`.
    private var learned = Set<String>()
    private var position = KnowledgePosition.start

    public init(knowledge: KnowledgeStores, clock: any EngineClock) {
        self.knowledge = knowledge
        self.clock = clock
    }

    /// Reads what the history gained since the last call (a history replaced by a shorter one,
    /// by `medic prune`, is read again whole).
    public mutating func catchUp() throws {
        let decoder = JSONDecoder()
        var seen = learned
        position = try knowledge.records.forEachLine(in: .incidentHistory, after: position, restarting: { seen = [] }) { line in
            if let id = IncidentRecording.runID(ofRecord: line, decoder) { seen.insert(id) }
        }
        learned = seen
    }

    /// Whether the history held the run's record when it was last read.
    public func hasLearned(_ runID: String) -> Bool { learned.contains(runID) }

    /// Learns the finished run (its records end with `run_finished`): appends its incident record
    /// and teaches the immune memory its lesson, without publishing the memory's changes. Reads
    /// the history's latest records first and does nothing when the run is there.
    public mutating func learn(_ run: FinishedRun) -> LearningReport {
        var report = LearningReport()
        guard let record = IncidentRecording.incident(from: run.records) else {
            report.warnings.append("no incident record for \(run.journal): the run has no run_started or run_finished record")
            return report
        }
        do {
            try catchUp()
            guard !learned.contains(record.runID) else { return report }
            try knowledge.records.append(encoding: record, to: .incidentHistory)
            learned.insert(record.runID)
            report.incident = record
        } catch {
            report.warnings.append("the incident record of run \(record.runID) was not written to \(knowledge.records.location): \(error)")
            return report
        }
        guard let lesson = run.remediation else { return report }
        // Learned at the run's end, as its own server learned it: a run learned late is not
        // made to look freshly applied (the memory decays entries by their last use).
        let ended = run.records.last { $0.event == .runFinished && $0.target == nil }.flatMap { JournalRecord.date($0.at) }
        let (changes, notLearned) = ImmuneLearning.learn(lesson, into: knowledge.immuneMemory, now: ended ?? clock.now)
        if let notLearned {
            report.warnings.append(notLearned)
        } else {
            report.remediation = lesson
            report.memoryChanges = changes
        }
        return report
    }
}
