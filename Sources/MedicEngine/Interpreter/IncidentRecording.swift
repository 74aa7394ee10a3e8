import Foundation
import MedicKnowledge
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// The incident record of a finished run (reference §9.1), built from its journal, and its append
/// to the incident history of the knowledge base (`KnowledgeStore`; by default
/// `<state dir>/knowledge/incident-history.jsonl`).
///
/// Written once, right after the run's `run_finished` record is durable, then marked done by an
/// empty file `runs/<RUN>.recorded`. A record that cannot be written (a read-only or full disk)
/// never changes the run: its outcome stands, its journal is complete (no record may follow
/// `run_finished`), and the failure is a warning of the `LearningStage` (the interpreter tells it to
/// `incidentRecordFailed`: by default a line on standard error). A finished run without its mark (Medic was stopped before the
/// record, or it could not be written) is reconciled by `medic runs` (`reconcile`), which writes
/// the record only when the history does not hold one with the run's id. See docs/knowledge.md.
enum IncidentRecording {
    /// The state directory holding `journalPath` (`<state>/runs/<id>.jsonl`, `RunStore.journalPath`).
    static func stateDirectory(ofJournal journalPath: String) -> String {
        ((journalPath as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
    }

    /// The mark that the run of the journal at `journalPath` has its incident record.
    static func markPath(ofJournal journalPath: String) -> String {
        (journalPath.hasSuffix(".jsonl") ? String(journalPath.dropLast(".jsonl".count)) : journalPath) + ".recorded"
    }

    /// Marks the run recorded. Not made durable: a mark lost in a power cut only makes the next
    /// reconciliation search the history, where it finds the record (which is durable).
    private static func markRecorded(_ journalPath: String) {
        let fd = open(markPath(ofJournal: journalPath), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 { close(fd) }
    }

    /// Appends the record of the run whose journal is `records` (ending with `run_finished`) to
    /// `knowledge`, and marks the run recorded: the record written, or why none was.
    static func append(_ records: [JournalRecord], journalPath: String,
                       to knowledge: any KnowledgeStore) -> (record: IncidentRecord?, failure: String?) {
        guard let record = incident(from: records) else {
            return (nil, "no incident record for \(journalPath): the journal has no run_started or run_finished record")
        }
        do {
            try knowledge.append(encoding: record, to: .incidentHistory)
            markRecorded(journalPath)
            return (record, nil)
        } catch {
            return (nil, "the incident record of run \(record.runID) was not written to \(knowledge.location): \(error)")
        }
    }

    /// The run ids of the incident history, read once by a reconciliation.
    struct RecordedRuns {
        var ids: Set<String>?
    }

    /// Writes the incident record of the finished run `runID` of `store` when it has no mark and
    /// the history holds no record with its id; marks it. Done holding the run's lock (a run
    /// whose process still holds it is left to that process), and a run missing from the ids
    /// read earlier is searched for again under the lock, so a record is never written twice.
    /// Returns what was done, or why it could not be; nil when nothing needed doing.
    static func reconcile(_ runID: String, in store: RunStore, recorded: inout RecordedRuns) -> String? {
        let journalPath = store.journalPath(runID)
        let mark = markPath(ofJournal: journalPath)
        guard !FileManager.default.fileExists(atPath: mark), let lock = try? RunLock(path: store.lockPath(runID)) else { return nil }
        defer { withExtendedLifetime(lock) {} }
        guard !FileManager.default.fileExists(atPath: mark), let contents = try? store.read(runID: runID), contents.damage.isEmpty,
              let record = incident(from: contents.records) else { return nil }
        let knowledge = StateStores.knowledge(in: store.directory).records
        let directory = knowledge.location
        do {
            if recorded.ids == nil { recorded.ids = try runIDs(in: knowledge) }
            // Read again when it seems missing: it may have been written since the first read.
            var known = recorded.ids!.contains(runID)
            if !known { known = try runIDs(in: knowledge).contains(runID) }
            if known {
                markRecorded(journalPath)
                return nil
            }
            try knowledge.append(encoding: record, to: .incidentHistory)
            markRecorded(journalPath)
            recorded.ids!.insert(runID)
            return "run \(runID) finished (\(record.runOutcome.rawValue)) but its incident record was missing from \(directory) "
                + "(Medic stopped before writing it, or could not write it); it is written now"
        } catch {
            return "run \(runID) has no incident record in \(directory), and it cannot be written: \(error)"
        }
    }

    /// The `run_id` of every record of the incident history.
    private static func runIDs(in knowledge: any KnowledgeStore) throws -> Set<String> {
        var ids = Set<String>()
        let decoder = JSONDecoder()
        try knowledge.forEachLine(in: .incidentHistory) { line, _ in
            if let id = runID(ofRecord: line, decoder) { ids.insert(id) }
        }
        return ids
    }

    /// The `run_id` of one record of the incident history; nil when it has none.
    static func runID(ofRecord line: ArraySlice<UInt8>, _ decoder: JSONDecoder) -> String? {
        struct Keyed: Decodable {
            var runID: String?
            enum CodingKeys: String, CodingKey { case runID = "run_id" }
        }
        return (try? decoder.decode(Keyed.self, from: Data(line)))?.runID
    }

    /// The default for `Interpreter.incidentRecordFailed`: one line on standard error.
    @Sendable static func warnOnStandardError(_ message: String) {
        FileHandle.standardError.write(Data("medic: warning: \(message)\n".utf8))
    }

    /// The incident record of a finished run; nil when `records` has no `run_started` with a plan
    /// or no `run_finished` with an outcome.
    static func incident(from records: [JournalRecord]) -> IncidentRecord? {
        guard let started = records.first(where: { $0.event == .runStarted }), let plan = started.plan,
              let finished = records.last(where: { $0.event == .runFinished && $0.target == nil }),
              let outcome = finished.outcome,
              let runOutcome = IncidentRecord.RunOutcome(rawValue: outcome.rawValue) else { return nil }
        let runID = started.run ?? ""
        let start = JournalRecord.date(started.at)
        let end = JournalRecord.date(finished.at)
        func seconds(_ from: Date?, _ to: Date?) -> Double? {
            guard let from, let to else { return nil }
            // Journal times have milliseconds: so do the durations (no 0.0039999 from binary floating point).
            return (max(0, to.timeIntervalSince(from)) * 1000).rounded() / 1000
        }

        let detection: IncidentRecord.Detection
        let detectedAt: Date?
        let incidentStart: Date?
        if let found = started.detection {
            detectedAt = JournalRecord.date(found.firedAt)
            incidentStart = JournalRecord.date(found.firstSeen)
            detection = .init(method: .anomalyDetection, detectionTime: found.firedAt,
                              timeToDetect: seconds(incidentStart, detectedAt),
                              initialSeverity: found.severity.description, rule: found.rule)
        } else {
            detectedAt = start
            incidentStart = start
            detection = .init(method: .manual, detectionTime: started.at, initialSeverity: plan.severity.description)
        }

        let verificationPassed = records.last { $0.event == .verificationFinished }?.verification?.state == .success
        let resolutionMethod: IncidentRecord.ResolutionMethod
        switch runOutcome {
        case .succeeded: resolutionMethod = .autoRemediation
        case .rolledBack: resolutionMethod = .rollback
        default: resolutionMethod = .manual
        }
        let remediationOutcome: IncidentRecord.RemediationOutcome?
        switch runOutcome {
        case .succeeded: remediationOutcome = .success
        case .partiallySucceeded: remediationOutcome = .partialSuccess
        case .refused: remediationOutcome = nil
        default: remediationOutcome = .failed
        }

        var components = plan.targets.map(\.name)
        for parameter in plan.parameters where ["service", "service_name", "component"].contains(parameter.name)
            && !parameter.value.isEmpty && !components.contains(parameter.value) {
            components.append(parameter.value)
        }

        return IncidentRecord(
            incidentID: runID, timestamp: started.at, endedAt: finished.at, runID: runID,
            mode: started.chaos != nil ? .chaos : started.mode == .automated ? .automated : .manual, runOutcome: runOutcome,
            detection: detection,
            classification: .init(category: plan.category?.rawValue, affectedComponents: components, blastRadius: plan.safety.blastRadius?.rawValue),
            remediation: .init(playbookID: plan.playbookID, playbookVersion: plan.playbookVersion,
                               executionTime: seconds(start, end) ?? 0, stepsExecuted: stepsExecuted(records, plan),
                               outcome: remediationOutcome),
            impact: .init(duration: seconds(incidentStart, end), servicesAffected: components),
            resolution: .init(resolutionMethod: resolutionMethod,
                              timeToResolution: runOutcome == .succeeded ? seconds(detectedAt, end) : nil,
                              verificationPassed: verificationPassed),
            metadata: .init(escalated: records.contains { $0.event == .escalated },
                            approvalRequested: records.contains { $0.event == .approvalRequested },
                            denied: records.contains { $0.event == .approvalDenied },
                            host: started.host))
    }

    /// Each playbook step that ran (per target in a rollout), in the order they first ran: its last
    /// attempt's result (the implementation, then the action's verification), attempt count and
    /// the seconds all its attempts took.
    static func stepsExecuted(_ records: [JournalRecord], _ plan: Plan) -> [IncidentRecord.StepExecuted] {
        struct Key: Hashable { var step: Int; var target: String? }
        var order: [Key] = []
        var steps: [Key: IncidentRecord.StepExecuted] = [:]
        for record in records where record.event == .stepFinished {
            guard let number = record.step, record.phase == .step || record.phase == .verification,
                  let result = record.result else { continue }
            let key = Key(step: number, target: record.target)
            if steps[key] == nil {
                order.append(key)
                let name = plan.steps.first { $0.number == number }?.name ?? "step \(number)"
                steps[key] = .init(step: number, name: name, target: record.target, succeeded: false, attempts: 0, duration: 0)
            }
            steps[key]!.duration = ((steps[key]!.duration! + result.seconds) * 1000).rounded() / 1000
            steps[key]!.succeeded = result.succeeded
            steps[key]!.attempts = max(steps[key]!.attempts, record.attempt ?? 1)
        }
        return order.map { steps[$0]! }
    }
}
