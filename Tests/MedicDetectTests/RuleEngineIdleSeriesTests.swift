import MedicDetect
import MedicModel
import XCTest

/// A full rule forgets quiet series to take new ones, but never one that is pending or firing.
final class RuleEngineIdleSeriesTests: XCTestCase {
    private func rule() throws -> AnomalyRule {
        AnomalyRule(name: "hot", metric: MetricSelector(name: "temp"), detector: .threshold(op: .greater, value: .number(80)),
                    sustain: Interval(seconds: 60), severity: .sev3, location: SourceLocation(file: "r.yaml"))
    }

    func testAFullRuleForgetsQuietSeriesButKeepsPendingOnes() throws {
        var engine = RuleEngine(rules: [try rule()], configuration: .init(maxSeriesPerRule: 2, idleSeriesAfter: 600))
        _ = engine.ingest(Sample(metric: "temp", labels: ["pod": "a"], time: 0, value: 20))
        _ = engine.ingest(Sample(metric: "temp", labels: ["pod": "b"], time: 0, value: 95))   // pending
        // Full, and nothing is quiet long enough yet: c is dropped.
        _ = engine.ingest(Sample(metric: "temp", labels: ["pod": "c"], time: 100, value: 20))
        XCTAssertEqual(engine.statistics[0].droppedSamples, 1)
        // 700 s on, a has been quiet for 700 s (forgotten); b is pending (kept), so c fits.
        _ = engine.ingest(Sample(metric: "temp", labels: ["pod": "c"], time: 700, value: 20))
        XCTAssertEqual(engine.statistics[0].forgottenSeries, 1)
        XCTAssertEqual(engine.statistics[0].series, 2)
        XCTAssertEqual(engine.statistics[0].droppedSamples, 1)
        // b is still the same pending series: one more hot sample fires it (its for: ran from t=0).
        let events = engine.ingest(Sample(metric: "temp", labels: ["pod": "b"], time: 710, value: 96))
        XCTAssertTrue(events.contains { if case .firing = $0 { true } else { false } }, "\(events)")
    }
}
