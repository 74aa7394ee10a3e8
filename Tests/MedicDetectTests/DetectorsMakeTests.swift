import MedicDetect
import MedicLoader
import MedicModel
import XCTest

final class DetectorsMakeTests: XCTestCase {
    func testMakesEveryKindWithItsParameters() throws {
        let threshold = try XCTUnwrap(Detectors.make(.threshold(op: .lessOrEqual, value: .percentage(5))) as? ThresholdDetector)
        XCTAssertEqual(threshold.op, .lessOrEqual)
        XCTAssertEqual(threshold.bound, 5)
        let average = try XCTUnwrap(Detectors.make(.movingAverage(window: 60, k: 2.5)) as? MovingAverageDetector)
        XCTAssertEqual([Double(average.window), average.k], [60, 2.5])
        let ewma = try XCTUnwrap(Detectors.make(.ewma(alpha: 0.3, threshold: 4, warmup: 10)) as? EWMADetector)
        XCTAssertEqual([ewma.alpha, ewma.threshold, Double(ewma.warmup)], [0.3, 4, 10])
        let iqr = try XCTUnwrap(Detectors.make(.iqr(window: 200, multiplier: 3)) as? IQRDetector)
        XCTAssertEqual([Double(iqr.window), iqr.multiplier], [200, 3])
        let rate = try XCTUnwrap(Detectors.make(.rateOfChange(change: Percentage(5, upTo: 10), within: Interval(seconds: 3600),
                                                              direction: .decrease)) as? RateOfChangeDetector)
        XCTAssertEqual([rate.change, rate.within], [5, 3600], "a range's lower end is the limit")
        XCTAssertEqual(rate.direction, .decrease)
        let seasonal = try XCTUnwrap(Detectors.make(.seasonal(low: 1, high: 99, minSamples: 7)) as? SeasonalDetector)
        XCTAssertEqual([seasonal.low, seasonal.high, Double(seasonal.minSamples)], [1, 99, 7])
        let composite = try XCTUnwrap(Detectors.make(.composite(components: [
            .init(detector: .ewma(alpha: 0.2, threshold: 3, warmup: 30), weight: 0.6),
            .init(detector: .threshold(op: .greater, value: .duration(Interval(seconds: 2))), weight: 0.4),
        ], threshold: 0.7, refractory: Interval(seconds: 600))) as? CompositeDetector)
        XCTAssertEqual(composite.weights, [0.6, 0.4])
        XCTAssertEqual(composite.threshold, 0.7)
        XCTAssertEqual(composite.refractory, 600)
    }

    static let rules = """
        rules:
          - name: root-disk-full
            metric: disk_usage_percent
            detector: threshold
            params: {op: ">", value: 90%}
            for: 5m
            severity: high
          - name: queue-depth
            metric: queue_depth
            detector: moving_average
            severity: low
          - name: latency-drift
            metric: p95_latency
            detector: ewma
            params: {alpha: 0.3}
            severity: medium
          - name: request-sizes
            metric: request_bytes
            detector: iqr
            params: {window: 200}
            severity: info
          - name: error-spike
            metric: http_error_rate
            detector: rate_of_change
            params: {change: 50%, within: 5m, direction: increase}
            severity: SEV1
          - name: orders
            metric: orders_per_minute
            detector: seasonal
            params: {min_samples: 7}
            severity: SEV2
          - name: checkout
            metric: checkout_latency_seconds
            detector: composite
            params:
              components:
                - detector: ewma
                  params: {alpha: 0.2}
                  weight: 0.6
                - detector: threshold
                  params: {op: ">", value: 2s}
                  weight: 0.4
              threshold: 0.7
              refractory: 8h
            severity: SEV1
          - name: checkout-errors
            metric: checkout_errors
            detector: composite
            params:
              components: [{detector: ewma}]
            severity: SEV2
        """

    func testBuildsDetectorsFromLoadedRulesWithTheLoadersDefaults() throws {
        let loaded = CatalogLoader(threads: 1).load(documents: [("rules/detect.yaml", Array(Self.rules.utf8))])
        XCTAssertFalse(loaded.hasErrors, "\(loaded.diagnostics)")
        let rules = Dictionary(uniqueKeysWithValues: loaded.catalog.rules.map { ($0.name, $0) })
        XCTAssertEqual(rules.count, 8)

        let average = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["queue-depth"]).detector) as? MovingAverageDetector)
        XCTAssertEqual([Double(average.window), average.k], [100, 3], "defaults: window 100, k 3")
        let ewma = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["latency-drift"]).detector) as? EWMADetector)
        XCTAssertEqual([ewma.alpha, ewma.threshold, Double(ewma.warmup)], [0.3, 3, 30], "defaults: threshold 3, warmup 30")
        let iqr = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["request-sizes"]).detector) as? IQRDetector)
        XCTAssertEqual([Double(iqr.window), iqr.multiplier], [200, 1.5])
        let rate = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["error-spike"]).detector) as? RateOfChangeDetector)
        XCTAssertEqual([rate.change, rate.within], [50, 300])
        let seasonal = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["orders"]).detector) as? SeasonalDetector)
        XCTAssertEqual([seasonal.low, seasonal.high, Double(seasonal.minSamples)], [5, 95, 7])
        let composite = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["checkout"]).detector) as? CompositeDetector)
        XCTAssertEqual(composite.weights, [0.6, 0.4])
        XCTAssertEqual(composite.refractory, 8 * 3600)
        let plain = try XCTUnwrap(Detectors.make(try XCTUnwrap(rules["checkout-errors"]).detector) as? CompositeDetector)
        XCTAssertEqual([plain.threshold, plain.refractory], [0.5, 0], "defaults: threshold 0.5, no refractory period")

        // The disk rule end to end: 90% is 90, and `for: 5m` holds it pending for 300 s.
        var disk = Detectors.make(try XCTUnwrap(rules["root-disk-full"]))
        XCTAssertEqual(disk.duration, 300)
        let states = [(0.0, 95.0), (60, 95), (299, 95), (300, 95), (360, 50)].map { sample -> SustainedDetector.State in
            _ = disk.observe(time: sample.0, value: sample.1)
            return disk.state
        }
        XCTAssertEqual(states, [.pending, .pending, .pending, .firing, .inactive])
    }

    func testBuildsADetectorForEveryRuleOfTheLoaderFixture() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MedicLoaderTests/Fixtures/valid/rules.yaml").path
        let loaded = CatalogLoader(threads: 1).load(paths: [fixture])
        let rules = loaded.catalog.rules
        XCTAssertFalse(rules.isEmpty)
        // Whether each rule's detector flags a jump from 1 to 1,000, held for 6 minutes, after a
        // flat stretch long enough to fill every window of the fixture (iqr's is 200 samples).
        let firesOnTheJump: [String: Bool] = [
            "root-disk-filling": true,  // once the jump has lasted its `for: 5m`
            "web-error-spike": true, "web-latency-drift": true, "queue-depth-unusual": true,
            "request-size-outlier": true, "checkout-health": true,
            // Seasonal compares a sample with the same hour of the week in earlier weeks: hours are no history.
            "orders-off-season": false,
        ]
        XCTAssertEqual(Set(rules.map(\.name)), Set(firesOnTheJump.keys), "every rule of the fixture has its expectation")
        for rule in rules {
            var detector = Detectors.make(rule)
            // Every rule's detector runs over a flat stretch of samples and fires on nothing.
            for minute in 0..<300 {
                let output = detector.observe(time: Double(minute) * 60, value: 1)
                XCTAssertFalse(output.anomalous, "\(rule.name) fired on a flat series at minute \(minute)")
                XCTAssertEqual(output.score, 0, "\(rule.name) at minute \(minute)")
            }
            // ... and the detector is the rule's, not one that never fires.
            let jump = (300...306).map { detector.observe(time: Double($0) * 60, value: 1000) }
            XCTAssertEqual(jump.contains { $0.anomalous }, firesOnTheJump[rule.name], "\(rule.name) on the jump: \(jump.map(\.score))")
            XCTAssertEqual(detector.duration, rule.sustain?.seconds ?? 0, rule.name)
        }
    }
}
