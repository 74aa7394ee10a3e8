import Foundation

/// Journals who a step's process is (`step_process`) the moment the executor has started it.
/// The executor calls from its own thread and cannot wait, so each record is appended by a task,
/// each after the one before (the records keep the order of the processes); `settle` waits for
/// them all, and the step's outcome is journaled only after it. Not fsync'ed: the record only
/// has to outlive a killed Medic, which the page cache (or the database's commit) does; a
/// power cut that loses it ends the process as well. A record that cannot be written is left
/// out: resume still finds the step's processes by their environment.
final class ProcessRecords: @unchecked Sendable {
    private let journal: any RunJournaling
    private let intent: JournalRecord
    private let clock: any EngineClock
    private let lock = NSLock()
    private var records: [JournalRecord] = []
    /// The append of the last record given, which the next one waits for.
    private var last: Task<Void, Never>?

    init(journal: any RunJournaling, intent: JournalRecord, clock: any EngineClock) {
        self.journal = journal
        self.intent = intent
        self.clock = clock
    }

    var record: @Sendable (StepProcess) -> Void {
        { [self] process in
            let record = JournalRecord.stepProcess(of: intent, processes: [process])
            let now = clock.now
            lock.withLock {
                let before = last
                last = Task { [self] in
                    await before?.value
                    guard let written = try? await journal.append(record, now: now, durable: false) else { return }
                    lock.withLock { records.append(written) }
                }
            }
        }
    }

    /// What was journaled, in order, once every record given so far is written (or left out).
    func settle() async -> [JournalRecord] {
        while true {
            let pending = lock.withLock { last }
            await pending?.value
            let done: [JournalRecord]? = lock.withLock { last == pending ? records : nil }
            if let done { return done }
        }
    }
}
