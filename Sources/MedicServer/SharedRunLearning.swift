import Foundation
import Logging
import MedicEngine
import MedicKnowledge
import MedicText
import ServiceLifecycle

/// With several servers sharing a database, this server's knowledge base learns every run that
/// ended on any of them (`SharedRunLessons`), every `interval` seconds until the server stops:
/// so each ranks candidates and consults its immune memory with every server's outcomes, and a
/// server that dies takes no lesson with it. A run that ended less than `settled` seconds ago is
/// left to the server that ran it, which learns it as it ends (and publishes the memory's
/// changes); one that server failed to learn (it died right after, or its disk refused the
/// record) is learned here after that.
///
/// A run that started before the newest record `medic prune` took out of the history is not
/// learned (it was pruned, or is older than what was pruned): the database keeps every run, and
/// learning them again would undo the prune.
struct SharedRunLearning: Service {
    let runs: any RunStoring
    let knowledge: KnowledgeStores
    /// The knowledge base's directory, where `medic prune` leaves its ledger.
    let knowledgeDirectory: String
    let clock: any EngineClock
    let interval: Double
    let settled: Double
    let logger: Logger

    func run() async throws {
        var lessons = SharedRunLessons(knowledge: knowledge, clock: clock)
        var unlearnable = Set<String>()
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await pass(&lessons, unlearnable: &unlearnable)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: UInt64(max(interval, 0.05) * 1e9)) }
        }
    }

    /// Learns the runs ended (and settled) since the last pass: how many.
    @discardableResult
    func pass(_ lessons: inout SharedRunLessons, unlearnable: inout Set<String>) async -> Int {
        do {
            try lessons.catchUp()
        } catch {
            logger.warning("medic: warning: the knowledge base could not be read to learn other servers' runs: \(error)")
            return 0
        }
        let (listed, problems) = await runs.list(reconcilingIncidents: false)
        for problem in problems { logger.warning("medic: warning: learning other servers' runs: \(problem)") }
        let before = clock.now.addingTimeInterval(-settled)
        let pruned = ((try? PrunedIncidentLedger(knowledgeDirectory: knowledgeDirectory).entries()) ?? []).map(\.until).max()
        var learned = 0
        for run in listed where run.status == .finished && !lessons.hasLearned(run.id) && !unlearnable.contains(run.id) {
            guard let ended = Timestamp(rfc3339: run.updatedAt)?.date, ended <= before else { continue }
            if let pruned, let started = Timestamp(rfc3339: run.startedAt), let until = Timestamp(rfc3339: pruned), started <= until { continue }
            let contents: JournalContents
            do {
                contents = try await runs.read(runID: run.id, repair: false)
            } catch {
                logger.warning("medic: warning: run \(run.id) could not be read to learn from it: \(error)")
                continue
            }
            let finished = FinishedRun(records: contents.records, journal: runs.journalPath(run.id))
            // A run that makes no incident record is not read again at every pass.
            guard finished.incidentRecord != nil else {
                unlearnable.insert(run.id)
                continue
            }
            let report = lessons.learn(finished)
            for warning in report.warnings { logger.warning("medic: warning: \(warning)") }
            if report.incident != nil {
                learned += 1
                logger.info("learned a run that ended on another server", metadata: ["run": "\(run.id)"])
            }
        }
        return learned
    }
}
