import MedicResilience
import XCTest

/// `CircuitBreaker.adopt`: a breaker holds the state another breaker of its key moved to, for the
/// time it is told, tells it as an adopted transition, and goes on by its own calls afterwards.
final class SharedBreakerStateTests: XCTestCase {
    private final class Transitions: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [CircuitBreaker.Transition] = []
        func add(_ transition: CircuitBreaker.Transition) { lock.withLock { seen.append(transition) } }
        var all: [CircuitBreaker.Transition] { lock.withLock { seen } }
    }

    private func breaker(clock: ManualResilienceClock) -> (CircuitBreaker, Transitions) {
        let breaker = CircuitBreaker(key: "http:api", configuration: .init(failureThreshold: 2, successThreshold: 1, resetTimeout: 30),
                                     clock: clock)
        let transitions = Transitions()
        breaker.observe { transitions.add($0) }
        return (breaker, transitions)
    }

    func testAnAdoptedOpeningRefusesForTheTimeLeftThenLetsATrialThroughThatClosesIt() throws {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(clock: clock)
        breaker.adopt(.open(retryIn: 12), reason: "2 failures in a row (on a)")
        XCTAssertNil(breaker.permit(), "open without a call of its own")
        XCTAssertEqual(breaker.refusal?.reason, "2 failures in a row (on a)")
        XCTAssertEqual(breaker.refusal?.retryIn, 12)
        XCTAssertEqual(transitions.all.map { [$0.from, $0.to] }, [["closed", "open"]])
        XCTAssertEqual(transitions.all.map(\.adopted), [true])
        XCTAssertEqual(transitions.all.first?.until, 12)

        clock.advance(by: 11.9)
        XCTAssertNil(breaker.permit(), "the time left of the other's reset timeout, not its own 30 s")
        clock.advance(by: 0.1)
        let trial = try XCTUnwrap(breaker.permit(), "half-open after the time it was told")
        breaker.record(trial, success: true)
        XCTAssertEqual(breaker.currentState, .closed)
        XCTAssertEqual(transitions.all.map(\.to), ["open", "half_open", "closed"])
        XCTAssertEqual(transitions.all.map(\.adopted), [true, false, false], "its own trial is its own")
    }

    func testATrialElsewhereRefusesAndAnAdoptedClosingClosesWithoutCountingAnything() {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(clock: clock)
        breaker.adopt(.trialElsewhere(retryIn: 5), reason: "a trial call by a")
        XCTAssertNil(breaker.permit())
        // Held open again: a new deadline, no new transition.
        breaker.adopt(.open(retryIn: 40), reason: "a trial call failed (on a)")
        clock.advance(by: 20)
        XCTAssertNil(breaker.permit(), "the later deadline replaced the earlier")
        XCTAssertEqual(breaker.refusal?.reason, "a trial call failed (on a)")
        breaker.adopt(.closed, reason: "1 trial calls succeeded (on a)")
        XCTAssertEqual(breaker.currentState, .closed)
        XCTAssertNotNil(breaker.permit())
        breaker.adopt(.closed, reason: "again")
        XCTAssertEqual(transitions.all.map { "\($0.from)>\($0.to)" }, ["closed>open", "open>closed"])
        XCTAssertEqual(transitions.all.map(\.adopted), [true, true])
    }

    func testAForcedOpeningIsHeldUntilAClosingComes() {
        let clock = ManualResilienceClock()
        let (breaker, _) = breaker(clock: clock)
        breaker.adopt(.open(retryIn: nil), reason: "opened by hand (on a)")
        clock.advance(by: 1_000_000)
        XCTAssertNil(breaker.permit())
        XCTAssertNotNil(breaker.refusal, "forced")
        XCTAssertNil(breaker.refusal?.retryIn)
        breaker.adopt(.closed, reason: "reset by hand (on a)")
        XCTAssertNotNil(breaker.permit())
    }

    func testItsOwnOpeningTellsWhenItLetsTrialsThrough() {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(clock: clock)
        clock.advance(by: 100)
        for _ in 0..<2 {
            guard let permit = breaker.permit() else { return XCTFail("refused") }
            breaker.record(permit, success: false)
        }
        XCTAssertEqual(transitions.all.last?.until, 130)
        XCTAssertEqual(transitions.all.last?.adopted, false)
        breaker.forceOpen()
        XCTAssertEqual(transitions.all.last?.until, .infinity)
    }
}
