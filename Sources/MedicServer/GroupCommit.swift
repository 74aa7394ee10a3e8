import Foundation

/// Group commit: callers hand their items to one committer thread and wait; the committer takes
/// every item waiting, commits them together (one write and one fsync for the lot, say), then
/// answers each. The items that arrive while one batch is committed wait together for the next,
/// so a burst of concurrent callers costs a few commits, not one each, and no caller waits for
/// more than two.
///
/// The committer is a thread of its own, not a task: a commit blocks in `fsync(2)`, which must
/// not hold one of the few threads of Swift's cooperative pool. It starts with the first item and
/// lasts as long as the process.
final class GroupCommit<Item: Sendable, Answer: Sendable>: @unchecked Sendable {
    /// Commits a batch, in order: one answer (or error) per item, in the same order.
    typealias Commit = @Sendable ([Item]) -> [Result<Answer, any Error>]

    private let name: String
    private let commit: Commit
    // Guards `queue` and `started`; the committer waits on it for work.
    private let condition = NSCondition()
    private var queue: [(item: Item, continuation: CheckedContinuation<Answer, any Error>)] = []
    private var started = false
    /// Batches committed so far (for the benchmarks and the tests: fewer than the items means they were shared).
    private var batches = 0

    init(name: String, commit: @escaping Commit) {
        self.name = name
        self.commit = commit
    }

    /// Waits for `item`'s batch to be committed: its answer, or the error the commit gave it.
    func submit(_ item: Item) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            queue.append((item, continuation))
            if !started {
                started = true
                let thread = Thread { [self] in self.commitBatches() }
                thread.name = name
                thread.start()
            }
            condition.signal()
            condition.unlock()
        }
    }

    /// How many batches were committed so far.
    var committed: Int {
        condition.lock()
        defer { condition.unlock() }
        return batches
    }

    private func commitBatches() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let batch = queue
            queue = []
            condition.unlock()
            var answers = commit(batch.map(\.item))
            if answers.count != batch.count {
                // A commit that miscounts is a programming fault; nobody is left waiting for it.
                answers = Array(repeating: .failure(GroupCommitFault(description: "\(name): a batch of \(batch.count) got \(answers.count) answers")),
                                count: batch.count)
            }
            condition.lock()
            batches += 1
            condition.unlock()
            for (waiting, answer) in zip(batch, answers) { waiting.continuation.resume(with: answer) }
        }
    }
}

struct GroupCommitFault: Error, CustomStringConvertible {
    var description: String
}
