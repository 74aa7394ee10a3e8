import Foundation
import MedicDetect
import MedicModel

/// `detect-throughput`: the streaming detectors over many series, single-threaded, through their
/// concrete types (as a rule engine specialised per detector kind would run them). Series are
/// interleaved round-robin: at each tick every series gets one sample, as a scrape delivers
/// them, so each detector's state is cold in cache again by the time its next sample comes.
/// Targets (issue 6): ≥ 5 M samples/s per core for threshold and EWMA, ≥ 2 M for the moving
/// average, < 1 KB per series.
enum DetectBenchmark {
    struct Row {
        var name: String
        var samplesPerSecond: Double
        var seconds: Double
        var inlineBytes: Int
        var heapBytes: Int
        var rssBytesPerSeries: Double
        var anomalies: Int
        var rateTarget: Double
        var memoryTarget = 1024

        var bytesPerSeries: Int { inlineBytes + heapBytes }
        var met: Bool { samplesPerSecond >= rateTarget && bytesPerSeries < memoryTarget && rssBytesPerSeries < Double(memoryTarget) }
    }

    static func run(series: Int, samples: Int) {
        let series = max(1, series), samples = max(1, samples)
        let values = table()
        let window = 100
        let rows = [
            measure("threshold", rateTarget: 5e6, heapBytes: 0, series: series, samples: samples, values: values) {
                ThresholdDetector(op: .greater, value: 80)
            },
            measure("ewma", rateTarget: 5e6, heapBytes: 0, series: series, samples: samples, values: values) {
                EWMADetector()
            },
            // The window's array: a 32-byte header and 8 bytes per sample.
            measure("moving_average", rateTarget: 2e6, heapBytes: 32 + 8 * window, series: series, samples: samples, values: values) {
                MovingAverageDetector(window: window)
            },
        ] + windowed(series: series, samples: samples, values: values)
        // For comparison (no target): the same through `any StreamingDetector`, as `Detectors.make` returns them.
        let dynamic = [
            measureExistential("threshold", spec: .threshold(op: .greater, value: .number(80)), series: series, samples: samples, values: values),
            measureExistential("ewma", spec: .ewma(alpha: 0.2, threshold: 3, warmup: 30), series: series, samples: samples, values: values),
            measureExistential("moving_average", spec: .movingAverage(window: window, k: 3), series: series, samples: samples, values: values),
        ]
        var lines = [
            "detect-throughput: \(series) series × \(samples) samples each, one thread, series interleaved round-robin",
            "  detector          M samples/s/core      time   bytes/series (inline + heap)   RSS delta/series   anomalies",
        ]
        for row in rows {
            let bytes = "\(row.bytesPerSeries) (\(row.inlineBytes) + \(row.heapBytes))"
            lines.append("  " + row.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + String(format: "%18.1f %9.2f s   ", row.samplesPerSecond / 1e6, row.seconds)
                         + bytes.padding(toLength: 31, withPad: " ", startingAt: 0)
                         + String(format: "%12.0f B %11d   ", row.rssBytesPerSeries, row.anomalies) + (row.met ? "ok" : "MISSED"))
        }
        lines.append("  through `any StreamingDetector` (Detectors.make), for comparison:")
        for (name, rate) in dynamic {
            lines.append("  " + name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%18.1f", rate / 1e6))
        }
        lines.append("  targets: ≥ 5 M samples/s/core threshold and ewma, ≥ 2 M moving_average, < 1 KB per series;")
        lines.append("  auto ≥ 1 M samples/s/core and ≤ 64 KB per series (heap: the arrays as the detectors count them; RSS: the process's")
        lines.append("  resident memory after creating the detectors minus before, over the series count)")
        let fields: [(String, Any)] = [
            ("series", series), ("samples_per_series", samples), ("order", "round-robin"), ("threads", 1),
            ("detectors", rows.map { row -> [String: Any] in
                ["name": row.name, "samples_per_second": row.samplesPerSecond, "seconds": row.seconds,
                 "inline_bytes": row.inlineBytes, "heap_bytes": row.heapBytes, "bytes_per_series": row.bytesPerSeries,
                 "rss_bytes_per_series": row.rssBytesPerSeries, "anomalies": row.anomalies, "target_met": row.met]
            }),
            ("existential_samples_per_second", Dictionary(uniqueKeysWithValues: dynamic.map { ($0.0, $0.1) })),
            ("all_targets_met", rows.allSatisfy(\.met)),
        ]
        report("detect-throughput", fields, lines: lines)
    }

    /// The detectors with bounded windows or tables (no target but memory for the three
    /// detectors, ≥ 1 M samples/s for `auto`), each with its heap as it reports it. `auto` first:
    /// the allocator hands the memory of a row's detectors to the next row, which makes the
    /// later rows' RSS growth an underestimate.
    private static func windowed(series: Int, samples: Int, values: [Double]) -> [Row] {
        let none = 0.0
        var rows = [
            measure("auto", rateTarget: 1e6, heapBytes: AutoPreset.heapBytes, series: series, samples: samples, values: values) {
                // `Detectors.make` of auto's shape is an AutoEnsembleDetector: measured through its concrete type.
                Detectors.make(AutoPreset.auto) as! AutoEnsembleDetector
            },
            // The same components in the general composite (a box each), which scores the same: what the
            // ensemble's own type saves.
            measure("auto as composite", rateTarget: none, heapBytes: AutoPreset.compositeHeapBytes, series: series, samples: samples,
                    values: values) {
                AutoPreset.composite()
            },
            measure("previous auto", rateTarget: none, heapBytes: NABCrossValidation.previousAutoHeapBytes, series: series, samples: samples, values: values) {
                Detectors.make(NABCrossValidation.previousAuto) as! CompositeDetector
            },
            // No target: `auto` with adaptive_resonance (defaults) as a second gate beside `range`
            // (the best candidate of the grid before `periodic`; docs/detection.md, "The gated
            // `auto`, before `periodic`"), for its cost beside `auto`'s.
            measure("auto + AR gate", rateTarget: none, heapBytes: autoWithResonanceHeapBytes, series: series, samples: samples,
                    values: values) {
                Detectors.make(autoWithResonance) as! CompositeDetector
            },
            measure("context", rateTarget: none, heapBytes: ContextDetector().heapBytes, series: series, samples: samples, values: values) {
                ContextDetector()
            },
            measure("relative_entropy", rateTarget: none, heapBytes: RelativeEntropyDetector().heapBytes, series: series, samples: samples,
                    values: values) { RelativeEntropyDetector() },
            measure("knn_conformal", rateTarget: none, heapBytes: KNNConformalDetector().heapBytes, series: series, samples: samples,
                    values: values) { KNNConformalDetector() },
            measure("adaptive_resonance", rateTarget: none, heapBytes: AdaptiveResonanceDetector().heapBytes, series: series,
                    samples: samples, values: values) { AdaptiveResonanceDetector() },
            measure("range", rateTarget: none, heapBytes: 0, series: series, samples: samples, values: values) { RangeDetector() },
            measure("periodic", rateTarget: none, heapBytes: PeriodicDetector().heapBytes, series: series, samples: samples,
                    values: values) { PeriodicDetector() },
        ]
        for index in rows.indices { rows[index].memoryTarget = 64 * 1024 }
        return rows
    }

    /// `auto` (its own type) and the same components in the general composite, alternating for
    /// `rounds` rounds (A B A B: both meet the same moments of a shared machine), each with fresh
    /// detectors: the medians, and the composite's time over auto's.
    static func autoRounds(series: Int, samples: Int, rounds: Int) {
        let series = max(1, series), samples = max(1, samples), rounds = max(1, rounds)
        let values = table()
        var ensemble: [Double] = [], composite: [Double] = []
        var lines = ["detect-throughput --auto-rounds: \(series) series × \(samples) samples, auto and auto as composite alternating"]
        for round in 1...rounds {
            let a = measure("auto", rateTarget: 1e6, heapBytes: AutoPreset.heapBytes, series: series, samples: samples, values: values) {
                Detectors.make(AutoPreset.auto) as! AutoEnsembleDetector
            }
            let b = measure("auto as composite", rateTarget: 0, heapBytes: AutoPreset.compositeHeapBytes, series: series, samples: samples,
                            values: values) { AutoPreset.composite() }
            ensemble.append(a.seconds)
            composite.append(b.seconds)
            lines.append(String(format: "  round %d: auto %.2f s (%.2f M samples/s), as composite %.2f s (%.2f M)", round, a.seconds,
                                a.samplesPerSecond / 1e6, b.seconds, b.samplesPerSecond / 1e6))
        }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let total = Double(series) * Double(samples)
        let (a, b) = (median(ensemble), median(composite))
        lines.append(String(format: "  medians: auto %.2f s (%.2f M samples/s), as composite %.2f s (%.2f M); composite / auto %.3f",
                            a, total / a / 1e6, b, total / b / 1e6, b / a))
        report("detect-throughput-auto", [("series", series), ("samples_per_series", samples), ("rounds", rounds),
                                          ("auto_seconds", ensemble), ("composite_seconds", composite),
                                          ("auto_samples_per_second", total / a), ("composite_samples_per_second", total / b)], lines: lines)
    }

    /// `auto` with `adaptive_resonance` at its defaults as a second gate beside `range` (as
    /// `MedicBench nab --folds` builds it).
    static var autoWithResonance: DetectorSpec {
        guard case .composite(var components, let threshold, let refractory) = AutoPreset.auto else { return AutoPreset.auto }
        components.append(.init(detector: .adaptiveResonance(step: 5, window: 8, levels: 80, learning: 400, capacity: 64, threshold: 0.5),
                                weight: 1, gate: true))
        return .composite(components: components, threshold: threshold, refractory: refractory)
    }

    /// `auto`'s components' heap in a composite plus the second gate's own heap, its box and one more component.
    static var autoWithResonanceHeapBytes: Int {
        AutoPreset.compositeHeapBytes + AdaptiveResonanceDetector().heapBytes + 16 + MemoryLayout<AdaptiveResonanceDetector>.size
            + MemoryLayout<CompositeDetector.Component>.stride + 8
    }

    /// Runs `samples` ticks over `series` fresh detectors. The values come from a 4,096-entry
    /// table (in L1 cache), so the loop measures the detectors, not a generator.
    private static func measure<D: StreamingDetector>(_ name: String, rateTarget: Double, heapBytes: Int, series: Int, samples: Int,
                                                      values: [Double], make: () -> D) -> Row {
        let before = residentBytes()
        var detectors = (0..<series).map { _ in make() }
        let after = residentBytes()
        var anomalies = 0
        let mask = values.count - 1
        let seconds = Measure.seconds {
            detectors.withUnsafeMutableBufferPointer { detectors in
                values.withUnsafeBufferPointer { values in
                    for tick in 0..<samples {
                        let time = Double(tick) * 10
                        for index in 0..<series where detectors[index].observe(time: time, value: values[(index &* 613 &+ tick) & mask]).anomalous {
                            anomalies &+= 1
                        }
                    }
                }
            }
        }
        withExtendedLifetime(detectors) {}
        return Row(name: name, samplesPerSecond: Double(series) * Double(samples) / seconds, seconds: seconds,
                   inlineBytes: MemoryLayout<D>.stride, heapBytes: heapBytes,
                   rssBytesPerSeries: Double(max(0, after - before)) / Double(series), anomalies: anomalies, rateTarget: rateTarget)
    }

    /// Samples per second through existentials built by `Detectors.make`.
    private static func measureExistential(_ name: String, spec: DetectorSpec, series: Int, samples: Int, values: [Double]) -> (String, Double) {
        var detectors = (0..<series).map { _ in Detectors.make(spec) }
        var anomalies = 0
        let mask = values.count - 1
        let seconds = Measure.seconds {
            for tick in 0..<samples {
                let time = Double(tick) * 10
                for index in 0..<series where detectors[index].observe(time: time, value: values[(index &* 613 &+ tick) & mask]).anomalous {
                    anomalies &+= 1
                }
            }
        }
        withExtendedLifetime((detectors, anomalies)) {}
        return (name, Double(series) * Double(samples) / seconds)
    }

    /// A noisy metric around 50 (the mean of four uniforms, σ ≈ 5.8) with a spike to 95 every 509 values.
    private static func table() -> [Double] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<4096).map { i in
            i % 509 == 0 ? 95 : 30 + 10 * (uniform() + uniform() + uniform() + uniform())
        }
    }

    /// This process's resident memory (Linux /proc/self/statm), 0 where it cannot be read.
    private static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
