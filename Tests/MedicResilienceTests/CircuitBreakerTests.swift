import MedicResilience
import XCTest

final class CircuitBreakerTests: XCTestCase {
    private final class Transitions: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [CircuitBreaker.Transition] = []
        func add(_ transition: CircuitBreaker.Transition) { lock.withLock { seen.append(transition) } }
        var all: [CircuitBreaker.Transition] { lock.withLock { seen } }
    }

    private func breaker(_ configuration: CircuitBreaker.Configuration, clock: ManualResilienceClock) -> (CircuitBreaker, Transitions) {
        let breaker = CircuitBreaker(key: "http:api", configuration: configuration, clock: clock)
        let transitions = Transitions()
        breaker.observe { transitions.add($0) }
        return (breaker, transitions)
    }

    private func fail(_ breaker: CircuitBreaker, _ times: Int) {
        for _ in 0..<times {
            guard let permit = breaker.permit() else { return XCTFail("refused while it should let calls through") }
            breaker.record(permit, success: false)
        }
    }

    func testOpensAfterTheFailureThresholdAndRefusesUntilTheResetTimeout() {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(.init(failureThreshold: 3, successThreshold: 2, resetTimeout: 10), clock: clock)
        fail(breaker, 2)
        let success = breaker.permit()!
        breaker.record(success, success: true)  // a success in between starts the count again
        fail(breaker, 2)
        XCTAssertEqual(breaker.currentState, .closed)
        fail(breaker, 1)
        XCTAssertEqual(breaker.currentState, .open(until: 10, forced: false))
        XCTAssertNil(breaker.permit())
        clock.advance(by: 9.9)
        XCTAssertNil(breaker.permit(), "refused until the reset timeout has passed")
        clock.advance(by: 0.1)
        XCTAssertEqual(breaker.currentState, .halfOpen)
        XCTAssertEqual(transitions.all.map(\.to), ["open"])
        XCTAssertEqual(transitions.all.first?.reason, "3 failures in a row")
    }

    func testHalfOpenLetsItsTrialsThroughAndClosesOnSuccesses() {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(.init(failureThreshold: 1, successThreshold: 2, resetTimeout: 5, halfOpenMaxTrials: 2), clock: clock)
        fail(breaker, 1)
        clock.advance(by: 5)
        let first = breaker.permit(), second = breaker.permit()
        XCTAssertNotNil(first)
        XCTAssertNotNil(second)
        XCTAssertNil(breaker.permit(), "two trials at once at most")
        breaker.record(first!, success: true)
        XCTAssertEqual(breaker.currentState, .halfOpen)
        let third = breaker.permit()
        XCTAssertNotNil(third, "a finished trial gives its place back")
        breaker.record(second!, success: true)
        XCTAssertEqual(breaker.currentState, .closed)
        breaker.record(third!, success: false)  // a permit from before the change does not count
        XCTAssertEqual(breaker.currentState, .closed)
        XCTAssertEqual(transitions.all.map { "\($0.from)>\($0.to)" }, ["closed>open", "open>half_open", "half_open>closed"])
        XCTAssertEqual(transitions.all.map(\.at), [0, 5, 5])
    }

    func testAFailedTrialOpensItAgainForAFullTimeout() {
        let clock = ManualResilienceClock()
        let (breaker, _) = breaker(.init(failureThreshold: 1, successThreshold: 1, resetTimeout: 5), clock: clock)
        fail(breaker, 1)
        clock.advance(by: 7)
        breaker.record(breaker.permit()!, success: false)
        XCTAssertEqual(breaker.currentState, .open(until: 12, forced: false))
    }

    func testForceOpenHoldsUntilResetByHand() {
        let clock = ManualResilienceClock()
        let (breaker, transitions) = breaker(.init(failureThreshold: 5, resetTimeout: 1), clock: clock)
        breaker.forceOpen(reason: "dependency under maintenance")
        clock.advance(by: 3600)
        XCTAssertNil(breaker.permit(), "a forced breaker does not half-open by itself")
        breaker.reset(reason: "maintenance over")
        XCTAssertNotNil(breaker.permit())
        XCTAssertEqual(transitions.all.map(\.reason), ["dependency under maintenance", "maintenance over"])
        breaker.reset()
        XCTAssertEqual(transitions.all.count, 2, "resetting a closed breaker is no transition")
    }

    func testResettingAClosedBreakerStartsItsCountAgain() {
        let clock = ManualResilienceClock()
        let (breaker, _) = breaker(.init(failureThreshold: 3), clock: clock)
        fail(breaker, 2)
        breaker.reset()
        fail(breaker, 2)
        XCTAssertEqual(breaker.currentState, .closed, "2 failures after the reset, not 4")
    }

    func testReconfigureKeepsTheState() {
        let clock = ManualResilienceClock()
        let (breaker, _) = breaker(.init(failureThreshold: 2, resetTimeout: 5), clock: clock)
        fail(breaker, 1)
        breaker.reconfigure(.init(failureThreshold: 4, resetTimeout: 5))
        fail(breaker, 2)
        XCTAssertEqual(breaker.currentState, .closed, "the count went on under the new threshold (3 < 4)")
        fail(breaker, 1)
        XCTAssertEqual(breaker.currentState.name, "open")
    }
}
