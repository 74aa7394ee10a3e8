import Foundation

/// Threads for work that blocks (a step's process, an fsync), off the few threads that run every
/// task. A job takes an idle thread when there is one and starts a new thread when there is not,
/// so fifty steps of a rollout run at once at once (Dispatch's global queue adds threads for
/// blocked work only slowly on Linux), while one step after another reuses one thread. A thread
/// idle for `idleTimeout` seconds ends. One per engine environment (`EngineEnvironment.blockingPool`).
public final class BlockingPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    /// Threads waiting for a job, or woken for one and not yet holding it.
    private var idle = 0
    private let idleTimeout: Double

    public init(idleTimeout: Double = 10) { self.idleTimeout = idleTimeout }

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let spawn = jobs.count > idle
        if !spawn { condition.signal() }
        condition.unlock()
        if spawn {
            let thread = Thread { [self] in work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body` on a pool thread and returns its result.
    public func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            run { continuation.resume(with: Result { try body() }) }
        }
    }

    private func work() {
        condition.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                condition.unlock()
                job()
                condition.lock()
                continue
            }
            idle += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: idleTimeout))
            idle -= 1
            if !woken && jobs.isEmpty {
                condition.unlock()
                return
            }
        }
    }
}
