import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicModel
import XCTest

final class VerificationTests: XCTestCase {
    private func condition(_ text: String) throws -> Condition {
        try Condition.parse(text).get()
    }

    /// An evaluator over one in-memory source that serves every name (host metrics kept for the
    /// names it does not set, through the registry's own fallback rules).
    private func evaluator(_ series: [String: [InMemoryMetricSource.Reading]]) -> ConditionEvaluator {
        ConditionEvaluator(metrics: MetricRegistry(sources: [(["*"], InMemoryMetricSource(series))]))
    }

    private func evaluate(_ text: String, _ series: [String: [InMemoryMetricSource.Reading]],
                          parameters: [String: String] = [:]) async throws -> ConditionResult {
        await evaluator(series).evaluate(try condition(text), parameters: parameters)
    }

    private func isUnknown(_ result: ConditionResult, containing text: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case .unknown(let reason) = result, reason.contains(text) else {
            return XCTFail("expected unknown mentioning '\(text)', got \(result)", file: file, line: line)
        }
    }

    // MARK: Conditions

    func testThreeValuedLogic() async throws {
        let series: [String: [InMemoryMetricSource.Reading]] = ["up": [.number(1)], "zero": [.number(0)], "broken": [.failure("redis down")]]
        let falseAndUnknown = try await evaluate("zero > 0 AND broken > 1", series)
        XCTAssertEqual(falseAndUnknown, .fails(observed: "zero=0"))
        let trueOrUnknown = try await evaluate("up > 0 OR broken > 1", series)
        XCTAssertEqual(trueOrUnknown, .holds(observed: "up=1"))
        isUnknown(try await evaluate("up > 0 AND broken > 1", series), containing: "redis down")
        isUnknown(try await evaluate("zero > 0 OR broken > 1", series), containing: "redis down")
        isUnknown(try await evaluate("NOT (broken > 1)", series), containing: "metric source '#1', broken: redis down")
        let notFalse = try await evaluate("NOT (zero > 0)", series)
        XCTAssertEqual(notFalse, .holds(observed: "zero=0"))
    }

    func testNumbersCompareByMagnitudeOfTheirUnits() async throws {
        let series: [String: [InMemoryMetricSource.Reading]] = [
            "cpu_usage": [.number(45)], "p95_latency": [.number(0.25)], "rss_bytes": [.number(150e6)], "uptime": [.number(301)],
        ]
        for (text, holds) in [("cpu_usage < 80%", true), ("p95_latency < 500ms", true), ("p95_latency < 200ms", false),
                              ("rss_bytes > 100MB", true), ("rss_bytes > 1GB", false), ("uptime > 5m", true), ("uptime >= 1h", false)] {
            let result = try await evaluate(text, series)
            if case .holds = result { XCTAssertTrue(holds, text) } else if case .fails = result { XCTAssertFalse(holds, text) } else {
                XCTFail("\(text): \(result)")
            }
        }
        let arithmetic = try await evaluate("used / total * 100 > 50", ["used": [.number(3)], "total": [.number(4)]])
        XCTAssertEqual(arithmetic, .holds(observed: "used=3, total=4"))
        isUnknown(try await evaluate("used / total > 1", ["used": [.number(3)], "total": [.number(0)]]), containing: "division by zero")
    }

    func testTextSymbolsAndSeverities() async throws {
        let series: [String: [InMemoryMetricSource.Reading]] = ["state": [.text("degraded")], "severity": [.text("SEV2")], "load": [.number(3)]]
        // `degraded` is served by nothing (the source has no such series): a symbol next to text.
        let symbol = try await evaluate("state == degraded", series)
        XCTAssertEqual(symbol, .holds(observed: #"state="degraded""#))
        let differs = try await evaluate("state != degraded", series)
        XCTAssertEqual(differs, .fails(observed: #"state="degraded""#))
        let quoted = try await evaluate(#"state == "healthy""#, series)
        XCTAssertEqual(quoted, .fails(observed: #"state="degraded""#))
        let lessSevere = try await evaluate("severity < SEV1", series)
        XCTAssertEqual(lessSevere, .holds(observed: #"severity="SEV2""#))
        // Next to a number, or alone, a word nothing serves is a metric that cannot be read.
        isUnknown(try await evaluate("load > threshold", series), containing: "has no series threshold")
        isUnknown(try await evaluate("state > healthy", series), containing: "cannot order text")
        // A reference that fails for another reason is unknown, never a symbol.
        isUnknown(try await evaluate("state == broken", ["state": [.text("broken")], "broken": [.failure("timeout")]]),
                  containing: "timeout")
    }

    func testTruthyValues() async throws {
        let series: [String: [InMemoryMetricSource.Reading]] = ["vip": [.text("yes")], "deploying": [.number(0)], "flag": [.text("true")]]
        let vip = try await evaluate("vip", series)
        XCTAssertEqual(vip, .holds(observed: #"vip="yes""#))
        let notDeploying = try await evaluate("NOT deploying", series)
        XCTAssertEqual(notDeploying, .holds(observed: "deploying=0"))
        let flag = try await evaluate("flag == true", series)
        XCTAssertEqual(flag, .holds(observed: #"flag="true""#))
        isUnknown(try await evaluate("nothing_serves_this", series), containing: "nothing_serves_this")
    }

    func testParametersFillLabelValuesAndBareReferences() async throws {
        let series: [String: [InMemoryMetricSource.Reading]] = [#"disk_usage_percent{path="/var"}"#: [.number(91)], "replicas": [.number(3)]]
        let filled = try await evaluate(#"disk_usage_percent{path="${mount}"} > 85"#, series, parameters: ["mount": "/var"])
        XCTAssertEqual(filled, .holds(observed: #"disk_usage_percent{path="/var"}=91"#))
        let bare = try await evaluate("replicas >= min_replicas", series, parameters: ["min_replicas": "3"])
        XCTAssertEqual(bare, .holds(observed: "replicas=3"))
        let withUnit = try await evaluate("replicas < limit", series, parameters: ["limit": "5m"])
        XCTAssertEqual(withUnit, .holds(observed: "replicas=3"), "a parameter with a unit reads as its magnitude")
        isUnknown(try await evaluate(#"disk_usage_percent{path="${mount}"} > 85"#, series), containing: "parameter 'mount'")
    }

    func testEachSeriesIsReadOncePerEvaluation() async throws {
        let source = InMemoryMetricSource(["a": [.number(5), .number(50)]])
        let evaluator = ConditionEvaluator(metrics: MetricRegistry(sources: [(["*"], source)]))
        let result = await evaluator.evaluate(try condition("a > 1 AND a < 10"))
        XCTAssertEqual(result, .holds(observed: "a=5"))
        XCTAssertEqual(source.queries, ["a"])
    }

    func testHostMetricsThroughTheEvaluator() async throws {
        let evaluator = ConditionEvaluator(metrics: MetricRegistry(config: nil))
        let result = await evaluator.evaluate(try condition(#"disk_usage_percent{path="/"} <= 100% AND load1 >= 0"#))
        guard case .holds(let observed) = result else { return XCTFail("\(result)") }
        XCTAssertTrue(observed.hasPrefix(#"disk_usage_percent{path="/"}="#), observed)
        XCTAssertTrue(observed.contains(", load1="), observed)
    }

    // MARK: Verifier

    private func verify(_ v: Verification, _ readings: [InMemoryMetricSource.Reading], clock: ManualClock,
                        expectedRecovery: Double? = nil) async -> VerificationReport {
        let verifier = Verifier(evaluator: evaluator(["errors": readings]), clock: clock)
        return await verifier.verify(v, parameters: [:], expectedRecovery: expectedRecovery)
    }

    func testSuccessAtTheFirstCheckAfterTheWait() async throws {
        let clock = ManualClock()
        let start = clock.now
        let report = await verify(Verification(check: try condition("errors == 0"), waitTime: Interval(seconds: 120), retry: 3),
                                  [.number(0)], clock: clock)
        XCTAssertEqual(report.state, .success)
        XCTAssertEqual(clock.slept, [120])
        XCTAssertEqual(report.checks, [.init(at: start + 120, result: .holds(observed: "errors=0"))])
        XCTAssertEqual(report.summary, "the check held (1 evaluation); last: errors=0")
    }

    func testSuccessAfterTwoFailingRoundsWithRetry() async throws {
        let clock = ManualClock()
        let start = clock.now
        let v = Verification(check: try condition("errors == 0"), waitTime: Interval(seconds: 10), retry: 3, interval: Interval(seconds: 30))
        let report = await verify(v, [.number(4), .number(2), .number(0)], clock: clock)
        XCTAssertEqual(report.state, .success)
        XCTAssertEqual(clock.slept, [10, 30, 30])
        XCTAssertEqual(report.checks.map(\.at), [start + 10, start + 40, start + 70])
        XCTAssertEqual(report.checks.map(\.result), [.fails(observed: "errors=4"), .fails(observed: "errors=2"), .holds(observed: "errors=0")])
    }

    func testConsecutiveChecksResetOnAFailure() async throws {
        let clock = ManualClock()
        let v = Verification(check: try condition("errors == 0"), window: Interval(seconds: 300), consecutiveChecks: 3,
                             interval: Interval(seconds: 30))
        let report = await verify(v, [.number(0), .number(0), .number(1), .number(0), .number(0), .number(0), .number(9)], clock: clock)
        XCTAssertEqual(report.state, .success)
        XCTAssertEqual(report.checks.count, 6, "held, held, failed (the run starts over), then three in a row")
        XCTAssertEqual(clock.slept, [30, 30, 30, 30, 30])
        XCTAssertEqual(report.summary, "the check held 3 times in a row (6 evaluations); last: errors=0")
    }

    func testPartialSuccessWhenTheCheckHeldButNeverEnoughInARow() async throws {
        let clock = ManualClock()
        // Window 90s / 3 checks: interval 30s, three evaluations a round; one retry round.
        let v = Verification(check: try condition("errors == 0"), retry: 1, window: Interval(seconds: 90), consecutiveChecks: 3)
        let report = await verify(v, [.number(0), .number(1), .number(0), .number(0), .number(1)], clock: clock)
        XCTAssertEqual(report.state, .partialSuccess)
        // Round 1 ends after its second evaluation: three in a row no longer fit.
        XCTAssertEqual(report.checks.count, 5)
        XCTAssertEqual(clock.slept, [30, 30, 30, 30])
        XCTAssertEqual(report.summary, "the check held 3 of 5 evaluations but never 3 in a row; last: errors=1",
                       "held counts every hold")
    }

    func testFailedWhenEveryEvaluationFails() async throws {
        let clock = ManualClock()
        let v = Verification(check: try condition("errors < 1"), waitTime: Interval(seconds: 60), retry: 2, interval: Interval(seconds: 10))
        let report = await verify(v, [.number(5)], clock: clock, expectedRecovery: 15)
        XCTAssertEqual(report.state, .failed)
        XCTAssertEqual(clock.slept, [60, 10, 10])
        XCTAssertEqual(report.checks.count, 3)
        XCTAssertEqual(report.summary, "the check failed all 3 evaluations; last: errors=5 (steps expected 15% recovery)")
    }

    func testARoundEndsOnceEnoughInARowCanNoLongerFit() async throws {
        let clock = ManualClock()
        // Four evaluations a round, three needed in a row: two failures end the round.
        let v = Verification(check: try condition("errors == 0"), window: Interval(seconds: 120), consecutiveChecks: 3,
                             interval: Interval(seconds: 30))
        let report = await verify(v, [.number(1)], clock: clock)
        XCTAssertEqual(report.state, .failed)
        XCTAssertEqual(report.checks.count, 2)
        XCTAssertEqual(clock.slept, [30])
    }

    func testUncertainWhenTheMetricCannotBeRead() async throws {
        let clock = ManualClock()
        let v = Verification(check: try condition("errors == 0"), retry: 1)
        let report = await verify(v, [.failure("connection refused")], clock: clock)
        XCTAssertEqual(report.state, .uncertain)
        XCTAssertEqual(clock.slept, [30], "the default interval")
        XCTAssertEqual(report.summary,
                       "the check never held; 2 of 2 evaluations could not be decided; last: metric source '#1', errors: connection refused")

        // Failures mixed with an unknown, and no hold: not every evaluation failed, so not FAILED.
        let mixed = await verify(Verification(check: try condition("errors == 0"), retry: 2),
                                 [.number(3), .failure("timeout"), .number(3)], clock: ManualClock())
        XCTAssertEqual(mixed.state, .uncertain)
    }

    func testCancelledVerificationIsUncertain() async throws {
        let clock = ManualClock()
        let v = Verification(check: try condition("errors == 0"), waitTime: Interval(seconds: 60))
        let verifier = Verifier(evaluator: evaluator(["errors": [.number(0)]]), clock: clock)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await verifier.verify(v, parameters: [:])
        }
        let report = await task.value
        XCTAssertEqual(report.state, .uncertain)
        XCTAssertEqual(report.checks, [])
        XCTAssertEqual(report.summary, "verification was cancelled after 0 check(s)")
    }

    func testScheduleDefaults() {
        let check = Condition(source: "x", expression: .truthy(.reference(MetricSelector(name: "x"))))
        let plain = Verifier.Schedule(Verification(check: check))
        XCTAssertEqual([plain.required, plain.checksPerRound, plain.rounds], [1, 1, 1])
        XCTAssertEqual(plain.interval, 30)
        let windowed = Verifier.Schedule(Verification(check: check, retry: 2, window: Interval(seconds: 300), consecutiveChecks: 3,
                                                      interval: Interval(seconds: 30)))
        XCTAssertEqual([windowed.required, windowed.checksPerRound, windowed.rounds], [3, 10, 3])
        let windowOnly = Verifier.Schedule(Verification(check: check, window: Interval(seconds: 300), consecutiveChecks: 3))
        XCTAssertEqual(windowOnly.interval, 100)
        XCTAssertEqual(windowOnly.checksPerRound, 3)
    }
}
