import MedicResilience
import XCTest

final class ResilienceGuardTests: XCTestCase {
    struct Boom: Error, Equatable { var attempt: Int }
    struct BadInput: Error {}

    /// Counts the calls an operation gets, failing the first `failures` of them.
    final class Flaky: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        let failures: Int
        init(failures: Int) { self.failures = failures }
        var calls: Int { lock.withLock { count } }
        func call() throws -> String {
            let attempt = lock.withLock { count += 1; return count }
            if attempt <= failures { throw Boom(attempt: attempt) }
            return "ok after \(attempt)"
        }
    }

    /// Runs `body` in a task, advancing `clock` each time something sleeps on it, until it ends;
    /// the waits it made, in order.
    private func drive<T: Sendable>(_ clock: ManualResilienceClock, step: Double = 1000,
                                    _ body: @escaping @Sendable () async throws -> T) async -> (Result<T, any Error>, [Double]) {
        let task = Task { try await body() }
        var waits: [Double] = []
        let finished = Finished()
        Task { _ = await task.result; finished.set() }
        while !finished.isSet {
            if clock.sleeping > 0 {
                let before = clock.now
                clock.advance(by: step)
                waits.append(clock.now - before)
            } else {
                try? await Task.sleep(nanoseconds: 200_000)
            }
        }
        return (await task.result, waits)
    }

    final class Finished: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    func testRetriesWithTheirBackoffAndCountsOneSuccess() async throws {
        let clock = ManualResilienceClock()
        let policy = RetryPolicy(maxAttempts: 4, backoff: .exponential(initial: 0.5, multiplier: 2), maxDelay: 30, jitter: .none)
        let guarded = ResilienceGuard(key: "http:api", configuration: .init(retry: policy, timeout: nil), clock: clock)
        let flaky = Flaky(failures: 2)
        // Advancing by exactly each expected wait: the clock then reads their sum.
        let task = Task { try await guarded.call { try flaky.call() } }
        for expected in [0.5, 1.0] {
            let slept = await clock.waitForSleepers(1)
            XCTAssertTrue(slept)
            // Halves of these waits are exact in binary: the sum lands on the deadline itself.
            clock.advance(by: expected / 2)
            XCTAssertEqual(clock.sleeping, 1, "still waiting half way through \(expected) s")
            clock.advance(by: expected / 2)
        }
        let value = try await task.value
        XCTAssertEqual(value, "ok after 3")
        XCTAssertEqual(clock.now, 1.5, accuracy: 1e-9)
        let snapshot = guarded.snapshot
        XCTAssertEqual([snapshot.calls, snapshot.successes, snapshot.failures, snapshot.attempts, snapshot.retries], [1, 1, 0, 3, 2])
        XCTAssertEqual(snapshot.retryRate, 2.0 / 3.0, accuracy: 1e-9)
        XCTAssertEqual(snapshot.p50, 1.5, accuracy: 0.01, "the call's latency includes its waits")
        XCTAssertEqual(snapshot.breaker, "closed")
    }

    func testRetriesRunOutAndTheBreakerCountsOneFailurePerCall() async throws {
        let clock = ManualResilienceClock()
        let configuration = GuardConfiguration(breaker: .init(failureThreshold: 2, resetTimeout: 60),
                                               retry: RetryPolicy(maxAttempts: 3, backoff: .constant(1), jitter: .none), timeout: nil)
        let guarded = ResilienceGuard(key: "bus:alerts", configuration: configuration, clock: clock)
        let flaky = Flaky(failures: 100)
        let (first, waits) = await drive(clock) { try await guarded.call { try flaky.call() } }
        XCTAssertEqual(waits.count, 2)
        guard case .failure(let error) = first, case ResilienceError.retriesExhausted(let key, let attempts, let last) = error else {
            return XCTFail("\(first)")
        }
        XCTAssertEqual([key, String(attempts)], ["bus:alerts", "3"])
        XCTAssertTrue(last.contains("attempt: 3"), last)
        XCTAssertEqual(guarded.snapshot.breaker, "closed", "three failed attempts are one failed call")
        _ = await drive(clock) { try await guarded.call { try flaky.call() } }
        XCTAssertEqual(guarded.snapshot.breaker, "open")
        let calls = flaky.calls
        let (refused, _) = await drive(clock) { try await guarded.call { try flaky.call() } }
        guard case .failure(let refusal) = refused, case ResilienceError.circuitOpen = refusal else { return XCTFail("\(refused)") }
        XCTAssertEqual(flaky.calls, calls, "an open breaker calls nothing, and a refusal is not retried")
        XCTAssertEqual(guarded.snapshot.rejectedByBreaker, 1)
    }

    func testAnErrorThatIsNotRetryableIsThrownAtOnce() async throws {
        let clock = ManualResilienceClock()
        let policy = RetryPolicy(maxAttempts: 5, backoff: .constant(1), retryable: { !($0 is BadInput) })
        let guarded = ResilienceGuard(key: "k", configuration: .init(retry: policy, timeout: nil), clock: clock)
        let calls = Flaky(failures: 0)
        do {
            _ = try await guarded.call { () -> Int in
                _ = try calls.call()
                throw BadInput()
            }
            XCTFail("must throw")
        } catch is BadInput {}
        XCTAssertEqual(calls.calls, 1)
        XCTAssertEqual(clock.now, 0)
    }

    func testAnAttemptThatHangsTimesOutAndIsRetriedUntilTheDeadline() async throws {
        let clock = ManualResilienceClock()
        let policy = RetryPolicy(maxAttempts: 10, backoff: .constant(2), jitter: .none, deadline: 11)
        let guarded = ResilienceGuard(key: "http:slow", configuration: .init(retry: policy, timeout: 3), clock: clock)
        let attempts = Flaky(failures: 0)
        let task = Task {
            try await guarded.call { () -> Int in
                _ = try attempts.call()
                // Hangs until cancelled (by the timeout).
                try await Task.sleep(nanoseconds: 3_600 * 1_000_000_000)
                return 1
            }
        }
        // attempt 1: 0..3 (timeout), wait 2 → 5; attempt 2: 5..8, wait 2 → 10; attempt 3 has 1 s left
        // of the deadline: 10..11; then a wait of 2 would pass the deadline.
        for step in [3.0, 2, 3, 2, 1] {
            let slept = await clock.waitForSleepers(1)
            XCTAssertTrue(slept, "something sleeps before \(clock.now) + \(step)")
            clock.advance(by: step)
        }
        do {
            _ = try await task.value
            XCTFail("must not succeed")
        } catch let error as ResilienceError {
            guard case .deadlineExceeded(_, let count, let last) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(count, 3)
            XCTAssertTrue(last.contains("no answer within 1.0 s"), last)
        }
        XCTAssertEqual(attempts.calls, 3)
        XCTAssertEqual(guarded.snapshot.timeouts, 3)
    }

    func testTheBulkheadRefusalIsNotRetriedAndGuardsAreIndependentByKey() async throws {
        let clock = ManualResilienceClock()
        let guards = ResilienceGuards(clock: clock) { key in
            GuardConfiguration(bulkhead: .init(maxConcurrent: 1, maxQueued: 0), breaker: .init(failureThreshold: 1, resetTimeout: 30),
                               retry: .never, timeout: nil)
        }
        let seen = OrderLog()
        guards.observe { seen.add($0.to == "open" ? 1 : 0) }
        let gate = Gate()
        let holding = Task { try await guards.call("shell:a") { await gate.wait(); return 1 } }
        try await untilTrue { guards.guarding("shell:a").bulkhead.snapshot.running == 1 }
        do {
            _ = try await guards.call("shell:a") { 2 }
            XCTFail("the only place is taken")
        } catch let refusal as ResilienceError {
            guard case .bulkheadFull = refusal else { return XCTFail("\(refusal)") }
        }
        let other = try await guards.call("shell:b") { 3 }
        XCTAssertEqual(other, 3, "another key has its own places")
        gate.open()
        _ = try await holding.value
        do { _ = try await guards.call("shell:b") { () -> Int in throw Boom(attempt: 1) } } catch {}
        XCTAssertEqual(guards.snapshots.map(\.breaker), ["closed", "open"])
        XCTAssertEqual(seen.all, [1], "the observer heard shell:b open")
        XCTAssertEqual(guards.snapshots[0].rejectedByBulkhead, 1)

        guards.reconfigure { _ in GuardConfiguration(bulkhead: .init(maxConcurrent: 8, maxQueued: 0), retry: .never, timeout: nil) }
        XCTAssertEqual(guards.guarding("shell:a").bulkhead.snapshot.maxConcurrent, 8, "reconfigured in place")
        XCTAssertEqual(guards.guarding("shell:b").breaker.currentState.name, "open", "the breaker's state is kept")
    }

    /// A call its caller cancels is not the destination's failure: a half-open breaker's trial
    /// is freed, and the breaker stays half-open.
    func testACancelledTrialNeitherReopensTheBreakerNorHoldsItsPlace() async throws {
        let clock = ManualResilienceClock()
        let guarded = ResilienceGuard(key: "k", configuration: .init(breaker: .init(failureThreshold: 1, successThreshold: 1, resetTimeout: 5),
                                                                     retry: .never, timeout: nil), clock: clock)
        do { _ = try await guarded.call { () -> Int in throw Boom(attempt: 1) } } catch {}
        XCTAssertEqual(guarded.snapshot.breaker, "open")
        clock.advance(by: 5)
        let trial = Task { try await guarded.call { () -> Int in try await clock.sleep(for: 3600); return 1 } }
        let started = await clock.waitForSleepers(1)
        XCTAssertTrue(started)
        trial.cancel()
        do {
            _ = try await trial.value
            XCTFail("a cancelled call throws")
        } catch is CancellationError {}
        XCTAssertEqual(guarded.breaker.currentState, .halfOpen, "a cancellation is not a failed trial")
        let next = try await guarded.call { 2 }
        XCTAssertEqual(next, 2, "the trial's place was given back")
        XCTAssertEqual(guarded.snapshot.breaker, "closed")
        XCTAssertEqual(guarded.snapshot.cancelled, 1)
    }

    /// An attempt given up at its timeout that goes on (it ignores cancellation) keeps its call's
    /// bulkhead place until it really ends: the bulkhead bounds what runs, not what is awaited.
    func testAnAttemptGivenUpAtItsTimeoutKeepsItsPlaceUntilItEnds() async throws {
        let clock = ManualResilienceClock()
        let guarded = ResilienceGuard(key: "k", configuration: .init(bulkhead: .init(maxConcurrent: 1, maxQueued: 0), retry: .never, timeout: 1),
                                      clock: clock)
        let gate = Gate()
        let stuck = Task { try await guarded.call { () -> Int in await gate.wait(); return 1 } }
        let sleeping = await clock.waitForSleepers(1)
        XCTAssertTrue(sleeping)
        clock.advance(by: 1)
        do {
            _ = try await stuck.value
            XCTFail("the call times out")
        } catch let error as ResilienceError {
            guard case .timedOut = error else { return XCTFail("\(error)") }
        }
        do {
            _ = try await guarded.call { 2 }
            XCTFail("the place is still held by the attempt that goes on")
        } catch let refusal as ResilienceError {
            guard case .bulkheadFull = refusal else { return XCTFail("\(refusal)") }
        }
        gate.open()
        try await untilTrue { guarded.bulkhead.snapshot.running == 0 }
        let after = try await guarded.call { 3 }
        XCTAssertEqual(after, 3)
    }

    func testLatencyPercentilesComeFromTheCallsTimes() async throws {
        let clock = ManualResilienceClock()
        let guarded = ResilienceGuard(key: "k", configuration: .init(retry: .never, timeout: nil), clock: clock)
        for index in 1...100 {
            _ = try await guarded.call { clock.advance(by: Double(index) / 1000); return index }
        }
        let snapshot = guarded.snapshot
        XCTAssertEqual(snapshot.p50, 0.050, accuracy: 0.001)
        XCTAssertEqual(snapshot.p99, 0.099, accuracy: 0.001)
        XCTAssertEqual(snapshot.max, 0.100, accuracy: 0.001)
        XCTAssertEqual(snapshot.successRate, 1)
    }

    private func untilTrue(_ condition: () -> Bool) async throws {
        for _ in 0..<30_000 where !condition() { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertTrue(condition())
    }
}

/// Opens once; waiters before and after go on.
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        await withCheckedContinuation { continuation in
            let now: Bool = lock.withLock {
                if isOpen { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
    func open() {
        let all: [CheckedContinuation<Void, Never>] = lock.withLock {
            isOpen = true
            defer { waiters = [] }
            return waiters
        }
        all.forEach { $0.resume() }
    }
}
