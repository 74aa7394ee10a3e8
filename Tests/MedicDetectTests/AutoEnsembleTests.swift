import MedicDetect
import MedicModel
import XCTest

/// `AutoEnsembleDetector` is `auto`'s shape held concretely: it must score as the general
/// `CompositeDetector` of the same components does, to the last bit, on any input, and keep the
/// value semantics of a detector (a copy goes its own way).
final class AutoEnsembleTests: XCTestCase {
    /// Series that reach every part of the components: a daily wave over ten days with a spike
    /// and a shifted day (periodic, range, refractory), noise, a flat line, values near Double's
    /// limits, and hostile samples (NaN, infinities, out of order, repeated times).
    private func series() -> [(name: String, samples: [(Double, Double)])] {
        // Noise from a fixed linear congruential sequence, the same on every run.
        var state: UInt64 = 7
        func unit() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        let day = 288
        let wave: [(Double, Double)] = (0..<(10 * day)).map { i in
            let shift = (6 * day..<7 * day).contains(i) ? -9.0 : 0
            let spike = i == 8 * day + 17 ? 70.0 : 0
            let value = 50 + 10 * sin(Double(i) * 2 * .pi / Double(day)) + shift + spike + unit()
            return (1_400_000_000 + Double(i) * 300, value)
        }
        let walk: [(Double, Double)] = (0..<3_000).reduce(into: []) { samples, i in
            let previous = samples.last?.1 ?? 0
            samples.append((Double(i) * 60, previous + unit() - 0.5 + (i % 997 == 0 ? 40 : 0)))
        }
        let flat: [(Double, Double)] = (0..<1_500).map { (Double($0) * 10, 3) }
        let huge: [(Double, Double)] = (0..<1_500).map { i in
            let sign: Double = i % 2 == 0 ? 1 : -1
            let value: Double = 1e300 * (1 + sin(Double(i) / 20)) * sign
            return (Double(i) * 300, value)
        }
        var hostile = wave.prefix(2_000).map { $0 }
        for i in stride(from: 150, to: 1_900, by: 97) {
            hostile[i].1 = [Double.nan, .infinity, -.infinity][i % 3]
            hostile[i + 1].0 = hostile[i - 5].0      // out of order
            hostile[i + 2].0 = hostile[i + 1].0      // repeated time
        }
        // Times from −1e20 s up (periodic's block numbers beyond ±9e15, about ±1.6e19 s at 30
        // minutes, have no references: its early reads must take that path too), values near
        // ±1.7e308 packed into one block (its sum overflows: the block leaves no reference), a
        // stretch of the wave, then times up to 1e20 s.
        let far: [Double] = (0..<200).map { i in 1e20 * (1 - Double(i) / 200) }
        var extreme: [(Double, Double)] = far.enumerated().map { i, time in (-time, wave[i].1) }
        let packed: [(Double, Double)] = (0..<600).map { i in
            let value: Double = i % 3 == 0 ? 1.7e308 : Double(i) - 1.6e308
            return (1_400_000_000 + Double(i) * 2, value)
        }
        extreme += packed
        extreme += wave[2_000..<2_600].map { ($0.0 + 1e6, $0.1) }
        extreme += far.reversed().enumerated().map { i, time in (time, wave[i].1) }
        return [("wave", wave), ("walk", walk), ("flat", flat), ("huge", huge), ("hostile", hostile), ("extreme", extreme)]
    }

    private func outputs(_ detector: inout some StreamingDetector, _ samples: [(Double, Double)]) -> [DetectorOutput] {
        samples.map { detector.observe(time: $0.0, value: $0.1) }
    }

    private func assertSameBits(_ a: [DetectorOutput], _ b: [DetectorOutput], _ name: String, file: StaticString = #filePath,
                                line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, name, file: file, line: line)
        let first = zip(a, b).enumerated().first { $0.element.0.anomalous != $0.element.1.anomalous
            || $0.element.0.score.bitPattern != $0.element.1.score.bitPattern }
        XCTAssertNil(first, "\(name): sample \(first?.offset ?? -1): ensemble \(first.map { "\($0.element.0)" } ?? "") "
                     + "composite \(first.map { "\($0.element.1)" } ?? "")", file: file, line: line)
    }

    func testAutoScoresAsTheCompositeOfItsComponentsToTheLastBit() throws {
        for (name, samples) in series() {
            var ensemble = try XCTUnwrap(Detectors.make(AutoPreset.auto) as? AutoEnsembleDetector)
            var composite = AutoPreset.composite()
            let mine = outputs(&ensemble, samples)
            assertSameBits(mine, outputs(&composite, samples), name)
            if name == "wave" { XCTAssertTrue(mine.contains { $0.anomalous }, "the wave's spike and shifted day are found") }
        }
    }

    /// Other parameters and weights of the same shape, a gate switched off by a zero weight, and
    /// thresholds and refractory periods out of range (clamped by both): still the composite's
    /// scores. Each shape fires somewhere, and where it has a refractory period the period
    /// changes some score, so that the gate, the threshold and the damping are compared where
    /// they act, not only at 0.
    func testAnyCompositeOfAutosShapeIsAnEnsembleAndScoresAsTheComposite() throws {
        let shapes: [(weights: [Double], threshold: Double, refractory: Double)] = [
            ([2, 0.5, 1, 1], 0.6, 3_600), ([1, 1, 1, 0], 0.4, 0), ([0, 0, 0, 1], 0.9, 600), ([1, 3, 2, 1], .nan, -5),
            ([5, 1, 1, 1], 2, .infinity), ([1, 1, 3, 1], 0.55, .nan), ([1, 1, 3, 1], 0.5, 7_200),
        ]
        let specs: [DetectorSpec] = [
            .knnConformal(dimension: 6, training: 30, calibration: 40, k: 4, threshold: 0.95),
            .context(levels: 6, span: 5, threshold: 0.5),
            .periodic(block: Interval(seconds: 3_600), alpha: 0.02, threshold: 2.5, warmup: 50),
            .range(tolerance: 0.1, warmup: 20),
        ]
        func components(_ weights: [Double]) -> [CompositeDetector.Component] {
            zip(specs, weights).enumerated().map { .init(Detectors.make($0.element.0), weight: $0.element.1, gate: $0.offset == 3) }
        }
        for shape in shapes {
            var fired = 0, damped = 0
            for (name, samples) in series() {
                var ensemble = try XCTUnwrap(AutoEnsembleDetector(components(shape.weights), threshold: shape.threshold,
                                                                  refractory: shape.refractory), "\(shape)")
                var composite = CompositeDetector(components(shape.weights), threshold: shape.threshold, refractory: shape.refractory)
                var undamped = CompositeDetector(components(shape.weights), threshold: shape.threshold, refractory: 0)
                XCTAssertEqual(ensemble.weights, shape.weights)
                XCTAssertEqual(ensemble.threshold.bitPattern, composite.threshold.bitPattern)
                XCTAssertEqual(ensemble.refractory.bitPattern, composite.refractory.bitPattern)
                let mine = outputs(&ensemble, samples)
                assertSameBits(mine, outputs(&composite, samples), "\(shape) \(name)")
                fired += mine.filter(\.anomalous).count
                damped += zip(mine, outputs(&undamped, samples)).filter { $0.0.score != $0.1.score }.count
            }
            XCTAssertGreaterThan(fired, 0, "\(shape) never fires")
            if shape.refractory > 0 { XCTAssertGreaterThan(damped, 0, "\(shape): the refractory period never damps a score") }
            // Built from a spec, the same shape is an ensemble too.
            let spec = DetectorSpec.composite(
                components: zip(specs, shape.weights).enumerated().map { .init(detector: $0.element.0, weight: $0.element.1, gate: $0.offset == 3) },
                threshold: shape.threshold, refractory: shape.refractory > 0 && shape.refractory.isFinite ? Interval(seconds: shape.refractory) : nil)
            XCTAssertTrue(Detectors.make(spec) is AutoEnsembleDetector, "\(shape)")
        }
    }

    /// Another order, a gate that is not range, or a fifth component: the general composite.
    func testOtherShapesStayComposites() {
        let knn = DetectorSpec.WeightedDetector(detector: AutoPreset.knn, weight: 1)
        let context = DetectorSpec.WeightedDetector(detector: AutoPreset.context, weight: 1)
        let periodic = DetectorSpec.WeightedDetector(detector: AutoPreset.periodic, weight: 3)
        let range = DetectorSpec.WeightedDetector(detector: AutoPreset.range, weight: 1, gate: true)
        let others: [[DetectorSpec.WeightedDetector]] = [
            [context, knn, periodic, range],
            [knn, context, periodic, .init(detector: AutoPreset.range, weight: 1)],
            [knn, context, .init(detector: AutoPreset.periodic, weight: 3, gate: true), range],
            [knn, context, periodic, range, .init(detector: AutoPreset.ewma, weight: 1)],
            [knn, context, periodic],
        ]
        for components in others {
            let made = Detectors.make(.composite(components: components, threshold: 0.73, refractory: nil))
            XCTAssertTrue(made is CompositeDetector, "\(components.map(\.detector.kind)) made \(type(of: made))")
        }
        XCTAssertTrue(Detectors.make(.composite(components: [knn, context, periodic, range], threshold: 0.73, refractory: nil))
                      is AutoEnsembleDetector)
    }

    /// A copy taken mid-stream and fed other samples leaves the original as it was: the original
    /// then scores the rest of its series exactly as a detector that was never copied (built
    /// apart and fed the same first half), scores that are not all 0.
    func testACopyGoesItsOwnWay() throws {
        let samples = try XCTUnwrap(series().first { $0.name == "wave" }).samples
        let half = samples.count / 2
        var original = try XCTUnwrap(Detectors.make(AutoPreset.auto) as? AutoEnsembleDetector)
        var never = try XCTUnwrap(Detectors.make(AutoPreset.auto) as? AutoEnsembleDetector)
        _ = outputs(&original, Array(samples[..<half]))
        _ = outputs(&never, Array(samples[..<half]))
        var copy = original
        _ = outputs(&copy, samples[half...].map { ($0.0, $0.1 * 3 + 100) })
        let rest = outputs(&original, Array(samples[half...]))
        assertSameBits(rest, outputs(&never, Array(samples[half...])), "original after its copy ran")
        XCTAssertTrue(rest.contains { $0.anomalous }, "the second half holds the spike")
        XCTAssertGreaterThan(rest.filter { $0.score > 0 }.count, rest.count / 2)
    }
}
