import MedicResilience
import XCTest

final class BulkheadTests: XCTestCase {
    /// Polls (bounded) until `condition` holds: the order of tasks is the scheduler's.
    private func until(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<30_000 where !condition() { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertTrue(condition(), what)
    }

    func testRunsUpToItsPlacesQueuesUpToItsQueueAndRefusesTheRest() async throws {
        let bulkhead = Bulkhead(key: "shell:web-01", configuration: .init(maxConcurrent: 2, maxQueued: 1))
        try await bulkhead.enter()
        try await bulkhead.enter()
        let waiting = Task { try await bulkhead.enter() }
        try await until("one call waits") { bulkhead.snapshot.queued == 1 }
        do {
            try await bulkhead.enter()
            XCTFail("a fourth call must be refused")
        } catch let refusal as ResilienceError {
            XCTAssertEqual(refusal, .bulkheadFull(key: "shell:web-01", running: 2, queued: 1))
        }
        let snapshot = bulkhead.snapshot
        XCTAssertEqual([snapshot.running, snapshot.queued, snapshot.maxConcurrent, snapshot.maxQueued, snapshot.rejected], [2, 1, 2, 1, 1])
        XCTAssertEqual(bulkhead.snapshot.utilisation, 1)
        bulkhead.leave()
        try await waiting.value
        XCTAssertEqual(bulkhead.snapshot.running, 2)
        XCTAssertEqual(bulkhead.snapshot.queued, 0)
        bulkhead.leave()
        bulkhead.leave()
        XCTAssertEqual(bulkhead.snapshot.running, 0)
    }

    func testWaitersEnterInOrderOfArrivalAndACancelledOneLeavesTheQueue() async throws {
        let bulkhead = Bulkhead(key: "k", configuration: .init(maxConcurrent: 1, maxQueued: 3))
        try await bulkhead.enter()
        let order = OrderLog()
        var tasks: [Task<Void, any Error>] = []
        for number in 0..<3 {
            tasks.append(Task {
                try await bulkhead.enter()
                order.add(number)
            })
            try await until("waiter \(number) queued") { bulkhead.snapshot.queued == number + 1 }
        }
        tasks[1].cancel()
        do {
            try await tasks[1].value
            XCTFail("a cancelled waiter throws")
        } catch is CancellationError {}
        XCTAssertEqual(bulkhead.snapshot.queued, 2)
        bulkhead.leave()
        try await tasks[0].value
        bulkhead.leave()
        try await tasks[2].value
        XCTAssertEqual(order.all, [0, 2])
        bulkhead.leave()
        XCTAssertEqual(bulkhead.snapshot.running, 0)
    }

    func testAWiderBulkheadLetsWaitersInAtOnce() async throws {
        let bulkhead = Bulkhead(key: "k", configuration: .init(maxConcurrent: 1, maxQueued: 5))
        try await bulkhead.enter()
        let waiters = (0..<3).map { _ in Task { try await bulkhead.enter() } }
        try await until("three wait") { bulkhead.snapshot.queued == 3 }
        bulkhead.reconfigure(.init(maxConcurrent: 4, maxQueued: 5))
        for waiter in waiters { try await waiter.value }
        XCTAssertEqual(bulkhead.snapshot.running, 4)
    }
}

final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func add(_ item: Int) { lock.withLock { items.append(item) } }
    var all: [Int] { lock.withLock { items } }
}
