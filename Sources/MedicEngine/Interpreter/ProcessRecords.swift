import Foundation

/// Journals who a step's process is (`step_process`) the moment the executor has started it,
/// from the executor's thread. Not fsync'ed: the record only has to outlive a killed Medic,
/// which the page cache does; a power cut that loses it ends the process as well. A record that
/// cannot be written is left out: resume still finds the step's processes by their environment.
final class ProcessRecords: @unchecked Sendable {
    private let journal: any RunJournaling
    private let intent: JournalRecord
    private let clock: any EngineClock
    private let lock = NSLock()
    private var records: [JournalRecord] = []

    init(journal: any RunJournaling, intent: JournalRecord, clock: any EngineClock) {
        self.journal = journal
        self.intent = intent
        self.clock = clock
    }

    var record: @Sendable (StepProcess) -> Void {
        { [self] process in
            let record = JournalRecord.stepProcess(of: intent, processes: [process])
            guard let written = try? journal.append(record, now: clock.now, durable: false) else { return }
            lock.withLock { records.append(written) }
        }
    }

    /// What was journaled, in order.
    var written: [JournalRecord] { lock.withLock { records } }
}
