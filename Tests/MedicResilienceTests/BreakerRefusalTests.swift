import MedicResilience
import XCTest

/// A breaker's refusal says why the breaker is in its state and when it lets a call through.
final class BreakerRefusalTests: XCTestCase {
    struct Down: Error {}

    func refusal(_ guarded: ResilienceGuard) async -> ResilienceError? {
        do {
            _ = try await guarded.call { 1 }
            return nil
        } catch {
            return error as? ResilienceError
        }
    }

    func testARefusalNamesTheReasonAndTheTimeLeftUntilTrials() async throws {
        let clock = ManualResilienceClock()
        let guarded = ResilienceGuard(key: "http:api:80", configuration: GuardConfiguration(
            breaker: .init(failureThreshold: 2, successThreshold: 1, resetTimeout: 30, halfOpenMaxTrials: 1), retry: .never, timeout: nil), clock: clock)
        for _ in 0..<2 { _ = try? await guarded.call { () -> Int in throw Down() } }

        clock.advance(by: 10.5)
        let open = await refusal(guarded)
        XCTAssertEqual(open, .circuitOpen(key: "http:api:80", state: "open", reason: "2 failures in a row", retryIn: 19.5))
        XCTAssertEqual(open?.description, "http:api:80: refused, the circuit breaker is open (2 failures in a row); trial calls again in 20 s")

        // Half-open with its one trial in flight: the next call is refused until it ends.
        clock.advance(by: 20)
        let trialStarted = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        let trial = Task {
            try await guarded.call { () -> Int in
                trialStarted.continuation.yield()
                for await _ in release.stream { break }
                return 1
            }
        }
        for await _ in trialStarted.stream { break }
        let halfOpen = await refusal(guarded)
        guard case .circuitOpen(_, "half_open", let reason, 0)? = halfOpen else { return XCTFail("\(String(describing: halfOpen))") }
        XCTAssertTrue(reason.contains("1 trial call(s) in flight"), reason)
        release.continuation.yield()
        _ = try await trial.value
        XCTAssertEqual(guarded.snapshot.breaker, "closed")

        guarded.breaker.forceOpen(reason: "maintenance")
        let forced = await refusal(guarded)
        XCTAssertEqual(forced, .circuitOpen(key: "http:api:80", state: "open", reason: "maintenance", retryIn: nil))
        XCTAssertTrue(forced?.description.hasSuffix("it stays open until reset by hand") == true, "\(String(describing: forced))")
    }
}
