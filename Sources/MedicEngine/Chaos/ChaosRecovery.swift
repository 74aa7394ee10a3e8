import Foundation

/// Finishes what a Medic that died during an experiment left undone (`medic chaos recover`, and
/// every `medic chaos run` or `campaign` before it starts): for each journal without `finished`,
/// the revert, unless a revert already succeeded, when the injection may have begun; then the
/// teardown, unless it already succeeded. The activities come from the journal itself, so the
/// experiment's file is not needed. Revert and teardown activities must be safe to run again
/// (docs/chaos.md): the dead Medic may have run them in part.
public enum ChaosRecovery {
    public struct Recovered: Sendable, Codable {
        public var journal: String
        public var experiment: String
        /// Whether a revert was needed, and whether it (and the teardown) succeeded.
        public var reverted: Bool
        public var revertNeeded: Bool
        public var cleanedUp: Bool
        public var results: [ChaosActivityResult]

        private enum CodingKeys: String, CodingKey {
            case journal, experiment, reverted, revertNeeded = "revert_needed", cleanedUp = "cleaned_up", results
        }
    }

    /// `activities(workdir)`: the runner of the activities in the journaled working directory.
    /// Call it holding the `ChaosLock`: an experiment running now has no finished journal either.
    public static func recover(stateDirectory: String, now: @Sendable () -> Date,
                               activities: (String?) -> ChaosActivityRunner) async -> [Recovered] {
        var recovered: [Recovered] = []
        for journal in ChaosJournal.unfinished(in: stateDirectory) {
            let records = journal.records()
            guard let start = records.first(where: { $0.event == .started }) else { continue }
            let experiment = start.experiment ?? "?"
            let runner = activities(start.workdir)
            let injected = records.contains { $0.event == .injectStarted }
            let reverted = records.contains { $0.event == .revertFinished && $0.succeeded == true }
            let setUp = records.contains { $0.event == .setupStarted }
            let cleaned = records.contains { $0.event == .teardownFinished && $0.succeeded == true }
            var result = Recovered(journal: journal.path, experiment: experiment, reverted: true, revertNeeded: injected && !reverted,
                                   cleanedUp: true, results: [])
            if injected && !reverted {
                var begin = ChaosJournalRecord(event: .revertStarted, at: now(), experiment: experiment)
                begin.message = "recovery: the Medic that ran it (pid \(start.pid.map(String.init) ?? "?")) stopped before the fault was reverted"
                try? journal.append(begin)
                let results = await runner.runAll(start.revert ?? [], experiment: experiment)
                result.results += results
                result.reverted = results.allSatisfy(\.succeeded)
                var done = ChaosJournalRecord(event: .revertFinished, at: now(), experiment: experiment)
                done.succeeded = result.reverted
                try? journal.append(done)
            }
            if (setUp || injected) && !cleaned, let teardown = start.teardown, !teardown.isEmpty {
                try? journal.append(ChaosJournalRecord(event: .teardownStarted, at: now(), experiment: experiment))
                let results = await runner.runAll(teardown, experiment: experiment)
                result.results += results
                result.cleanedUp = results.allSatisfy(\.succeeded)
                var done = ChaosJournalRecord(event: .teardownFinished, at: now(), experiment: experiment)
                done.succeeded = result.cleanedUp
                try? journal.append(done)
            }
            if result.reverted && result.cleanedUp {
                var done = ChaosJournalRecord(event: .finished, at: now(), experiment: experiment)
                done.outcome = ChaosOutcome.aborted.rawValue
                done.message = "recovered: reverted and cleaned up after its Medic stopped"
                try? journal.append(done)
            }
            recovered.append(result)
        }
        return recovered
    }
}
