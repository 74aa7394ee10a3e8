import Foundation
import MedicEngine
import MedicPostgres
import MedicResilience
import MedicServeTestKit
import XCTest

/// The guards' breakers shared through the database (`PostgresGuardStates`, `GuardStateSharing`):
/// two engines, each with its own guards, clock and connection pool, as two servers have; each
/// exchange with the store is made by hand, so what each breaker knows is decided by the test.
final class SharedGuardStatesTests: PostgresTestCase {
    static let key = "http:10.9.8.7:8080"

    /// An engine's clock that moves only when told (a sleep moves it too).
    final class TestClock: EngineClock, @unchecked Sendable {
        private let lock = NSLock()
        private var current = Date(timeIntervalSince1970: 1_800_000_000)
        var now: Date { lock.withLock { current } }
        func sleep(seconds: Double) async throws { advance(seconds) }
        func advance(_ seconds: Double) { lock.withLock { current += seconds } }
    }

    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        private var said: [String] = []
        func add() { lock.withLock { count += 1 } }
        var made: Int { lock.withLock { count } }
        func warn(_ text: String) { lock.withLock { said.append(text) } }
        var warnings: [String] { lock.withLock { said } }
    }

    struct Engine {
        let guards: ExecutorGuards
        let clock: TestClock
        let sharing: GuardStateSharing
        let calls: Calls

        /// One call to the destination through the guard: true if it reached the destination.
        @discardableResult
        func call(succeeding: Bool) async -> Bool {
            let before = calls.made
            _ = try? await guards.call(SharedGuardStatesTests.key) { [calls] in
                calls.add()
                if !succeeding { throw URLError(.badServerResponse) }
            }
            return calls.made > before
        }

        var breaker: CircuitBreaker { guards.guards.guarding(SharedGuardStatesTests.key).breaker }
    }

    static func engine(_ instance: String, _ database: StateDatabase) -> Engine {
        let clock = TestClock()
        let guards = ExecutorGuards(settings: ResilienceSettings(kinds: [.http: GuardLimits(failureThreshold: 2, resetTimeout: 30)]), clock: clock)
        let calls = Calls()
        let sharing = GuardStateSharing(guards: guards, store: PostgresGuardStates(database), instance: instance, interval: 1,
                                        answerWithin: 1, warn: { calls.warn($0) })
        return Engine(guards: guards, clock: clock, sharing: sharing, calls: calls)
    }

    func testAnOpeningOnOneServerIsHeldByTheOtherWhichCallsNothingUntilTheTrialClosesIt() async throws {
        let databases = try await databases(2)
        let (a, b) = (Self.engine("a", databases[0]), Self.engine("b", databases[1]))
        await b.sharing.exchange()  // b reads an empty store first, as a server started before any failure

        await a.call(succeeding: false)
        await a.call(succeeding: false)
        XCTAssertEqual(a.breaker.currentState.name, "open")
        await a.sharing.exchange()
        let stored = try await PostgresGuardStates(databases[0]).states()
        XCTAssertEqual(stored.map(\.key), [Self.key])
        XCTAssertEqual(stored.first?.state, "open")
        XCTAssertEqual(stored.first?.instance, "a")
        XCTAssertEqual(stored.first?.reason, "2 failures in a row")
        let left = try XCTUnwrap(stored.first?.retryIn)
        XCTAssertTrue(left > 20 && left <= 30, "what is left of a's reset timeout, by the database's clock: \(left)")

        // b adopts it: it refuses without calling, saying who opened it and why.
        await b.sharing.exchange()
        let reached = await b.call(succeeding: true)
        XCTAssertFalse(reached, "b did not call the failing destination")
        XCTAssertEqual(b.calls.made, 0)
        XCTAssertEqual(b.breaker.refusal?.reason, "2 failures in a row (on a)")
        let retryIn = try XCTUnwrap(b.breaker.refusal?.retryIn)
        XCTAssertTrue(retryIn > 20 && retryIn <= 32, "a's time left and two intervals: \(retryIn)")
        XCTAssertEqual(b.guards.snapshots.first?.rejectedByBreaker, 1)
        // b's adopted opening is not written back as b's.
        await b.sharing.exchange()
        let still = try await PostgresGuardStates(databases[1]).states()
        XCTAssertEqual(still.map(\.instance), ["a"])
        XCTAssertEqual(still.map(\.version), stored.map(\.version))

        // After a's reset timeout a's trial succeeds: closed at a, then at b.
        a.clock.advance(31)
        let trial = await a.call(succeeding: true)
        XCTAssertTrue(trial)
        XCTAssertEqual(a.breaker.currentState, .closed)
        b.clock.advance(20)
        let beforeClosing = await b.call(succeeding: true)
        XCTAssertFalse(beforeClosing, "b still refuses until it hears of the closing (its deadline is later than a's)")
        await a.sharing.exchange()
        let closed = try await PostgresGuardStates(databases[0]).states()
        XCTAssertEqual(closed.first?.state, "closed")
        XCTAssertNil(closed.first?.retryIn)
        await b.sharing.exchange()
        XCTAssertEqual(b.breaker.currentState, .closed)
        let afterClosing = await b.call(succeeding: true)
        XCTAssertTrue(afterClosing)
        XCTAssertEqual(b.calls.made, 1)
        XCTAssertEqual(a.calls.warnings + b.calls.warnings, [])
    }

    func testATrialInFlightElsewhereIsWaitedForAndItsFailureReopensEverywhere() async throws {
        let databases = try await databases(2)
        let (a, b) = (Self.engine("a", databases[0]), Self.engine("b", databases[1]))
        await b.sharing.exchange()
        await a.call(succeeding: false)
        await a.call(succeeding: false)
        await a.sharing.exchange()
        await b.sharing.exchange()

        // a's reset timeout ends: a takes its trial permit (half-open) and tells it.
        a.clock.advance(31)
        let permit = try XCTUnwrap(a.breaker.permit())
        await a.sharing.exchange()
        let trialState = try await PostgresGuardStates(databases[0]).states().first?.state
        XCTAssertEqual(trialState, "half_open")
        b.clock.advance(33)  // past a's deadline and the margin: b would try itself, but hears of a's trial
        await b.sharing.exchange()
        let duringTrial = await b.call(succeeding: true)
        XCTAssertFalse(duringTrial, "one trial at a time: a's")
        XCTAssertEqual(b.breaker.refusal?.reason, "a trial call by a")

        // The trial fails: open again at a, and at b for a's new reset timeout.
        a.breaker.record(permit, success: false)
        await a.sharing.exchange()
        await b.sharing.exchange()
        XCTAssertEqual(b.breaker.refusal?.reason, "a trial call failed (on a)")
        let retryIn = try XCTUnwrap(b.breaker.refusal?.retryIn)
        XCTAssertTrue(retryIn > 20 && retryIn <= 32, "\(retryIn)")
        XCTAssertEqual(b.calls.made, 0)

        // A server started now adopts what still refuses, and not a past opening.
        let c = Self.engine("c", databases[1])
        await c.sharing.exchange()
        let late = await c.call(succeeding: true)
        XCTAssertFalse(late, "c adopts a's opening at its first reading")
        XCTAssertEqual(c.calls.made, 0)
    }

    func testAClosedOrPastStateTellsAServerStartingNothing() async throws {
        let databases = try await databases(1)
        let store = PostgresGuardStates(databases[0])
        try await store.record(key: Self.key, state: "closed", reason: "1 trial calls succeeded", instance: "a", retryIn: nil)
        try await store.record(key: "http:old:80", state: "open", reason: "5 failures in a row", instance: "a", retryIn: -5)
        let states = try await store.states()
        XCTAssertEqual(states.map(\.key), ["http:10.9.8.7:8080", "http:old:80"])
        XCTAssertEqual(states.map(\.version), [1, 1])
        let c = Self.engine("c", databases[0])
        await c.sharing.exchange()
        let first = await c.call(succeeding: true)
        XCTAssertTrue(first)
        XCTAssertEqual(c.guards.guards.guarding("http:old:80").breaker.currentState, .closed)
        try await store.record(key: "http:old:80", state: "open", reason: "5 failures in a row", instance: "a", retryIn: 10)
        let versions = try await store.states().map(\.version)
        XCTAssertEqual(versions, [1, 2])
        await c.sharing.exchange()
        XCTAssertEqual(c.guards.guards.guarding("http:old:80").breaker.currentState.name, "open", "a change after its first reading is adopted")
    }
}

/// A database that stops while the breakers change: calls go on, each breaker with what it
/// knows, one warning (the exchange waits on the database: it says so after `answerWithin`);
/// the change is written when the database is back. A class of its own:
/// it stops its PostgreSQL server.
final class SharedGuardStatesOutageTests: PostgresTestCase {
    func testADatabaseOutageStopsNoCallAndTheChangeIsSharedWhenItIsBack() async throws {
        let postgres = try server()
        let databases = try await databases(2)
        let (a, b) = (SharedGuardStatesTests.engine("a", databases[0]), SharedGuardStatesTests.engine("b", databases[1]))
        await a.sharing.exchange()
        await b.sharing.exchange()

        postgres.stop()
        defer { try? postgres.start() }
        // The exchange waits on the database in the background; the calls do not.
        let exchanging = Task { await a.sharing.exchange() }
        for _ in 0..<2 {
            let reached = await a.call(succeeding: false)
            XCTAssertTrue(reached)
        }
        XCTAssertEqual(a.breaker.currentState.name, "open", "a's breaker works on its own")
        let refused = await a.call(succeeding: true)
        XCTAssertFalse(refused)
        let bReached = await b.call(succeeding: true)
        XCTAssertTrue(bReached, "b's calls go on too")
        _ = try await ServeProcess.poll("a's warning that the states are not shared") {
            a.calls.warnings.contains { $0.contains("are not shared") } ? true : nil
        }

        try postgres.start()
        await exchanging.value
        _ = try await ServeProcess.poll("a's opening written once the database is back") {
            await a.sharing.exchange()
            return try? await PostgresGuardStates(databases[1]).states().first { $0.state == "open" }
        }
        await b.sharing.exchange()
        let afterOutage = await b.call(succeeding: true)
        XCTAssertFalse(afterOutage, "b adopted a's opening")
        XCTAssertEqual(b.calls.made, 1)
        let warnings = a.calls.warnings
        XCTAssertEqual(warnings.filter { $0.contains("are not shared") }.count, 1, "\(warnings)")
        XCTAssertEqual(warnings.filter { $0.contains("shared again") }.count, 1, "\(warnings)")
    }
}
