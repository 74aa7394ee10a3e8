import Foundation
import MedicDetect
import MedicModel

/// The streaming detector family (context, relative_entropy, knn_conformal) as `nab` rows (`auto`
/// is a row of the presets' table), each series' scores per corpus, and the leave-one-corpus-out
/// cross-validation that chose `auto` (`--folds`).
extension BuiltInDetector {
    static let streamingFamily: [BuiltInDetector] = [
        BuiltInDetector(name: "context", description: "defaults: levels 8, span 7", spec: { _ in .context(levels: 8, span: 7, threshold: 0.5) }),
        BuiltInDetector(name: "relative_entropy", description: "defaults: window 52, bins 10, models 8, confidence 0.99",
                        spec: { _ in .relativeEntropy(window: 52, bins: 10, models: 8, confidence: 0.99) }),
        BuiltInDetector(name: "knn_conformal", description: "defaults: dimension 10, training 50, calibration 100, k 3",
                        spec: { _ in .knnConformal(dimension: 10, training: 50, calibration: 100, k: 3, threshold: 0.99) }),
        BuiltInDetector(name: "adaptive_resonance", description: "defaults: step 5, window 8, levels 80, learning 400, capacity 64",
                        spec: { _ in NABCrossValidation.adaptiveResonance }),
        BuiltInDetector(name: "range", description: "defaults: tolerance 0, warmup 100", spec: { _ in DetectorPreset.autoRange }),
        BuiltInDetector(name: "previous auto", description: "ewma-nab x1, knn_conformal x2, context x1, range as a gate; threshold 0.85, refractory 16h",
                        spec: { _ in NABCrossValidation.previousAuto }),
        BuiltInDetector(name: "periodic", description: "defaults: block 30m, alpha 0.01, threshold 3, warmup 100",
                        spec: { _ in NABCrossValidation.periodic }),
    ]
}

enum NABCorpora {
    /// A corpus's name: the folder of its series' keys (`realKnownCause/nyc_taxi.csv`).
    static func name(of series: NABSeries) -> String {
        series.key.split(separator: "/").first.map(String.init) ?? series.key
    }

    static func names(_ corpus: NABCorpus) -> [String] {
        Array(Set(corpus.series.map(name))).sorted()
    }

    static func subset(_ corpus: NABCorpus, _ names: Set<String>) -> NABCorpus {
        NABCorpus(series: corpus.series.filter { names.contains(name(of: $0)) }, profiles: corpus.profiles)
    }

    /// The standard score of `outputs` on each corpus alone, each at its own optimal threshold,
    /// as `corpus score` pairs; a corpus without windows shows its false-positive rows instead
    /// (its normalised score is 0 whatever the detector does).
    static func line(_ corpus: NABCorpus, _ outputs: [String: [Double]], threshold: Double) throws -> String {
        try names(corpus).map { name in
            let part = subset(corpus, [name])
            if part.windowCount == 0 {
                let at = try NABScorer.score(corpus: part, outputs: outputs, profile: .standard, threshold: threshold)
                return "\(name) \(at.falsePositives) FP rows"
            }
            let result = try NABScorer.score(corpus: part, outputs: outputs)
            return String(format: "%@ %.2f", name, result.scores[0].normalised)
        }.joined(separator: ", ")
    }
}

/// The choice of `auto`, re-run: a small grid of ensembles (weights of ewma, knn_conformal,
/// context and adaptive_resonance, or the mean of the first three with gates; threshold;
/// refractory period), each scored on every corpus but one, the best (and its threshold) applied
/// to the held-out corpus.
enum NABCrossValidation {
    struct Candidate {
        var name: String
        var spec: DetectorSpec
    }

    /// `auto` before `periodic` (docs/detection.md, "The previous auto").
    static let previousAuto = DetectorSpec.composite(
        components: [.init(detector: AutoPreset.ewma, weight: 1), .init(detector: AutoPreset.knn, weight: 2),
                     .init(detector: AutoPreset.context, weight: 1), .init(detector: AutoPreset.range, weight: 1, gate: true)],
        threshold: 0.85, refractory: Interval(seconds: 16 * 3600))

    /// Its heap bytes per series, counted as `AutoPreset.heapBytes` counts them.
    static var previousAutoHeapBytes: Int {
        4 * 16 + MemoryLayout<EWMADetector>.size + MemoryLayout<KNNConformalDetector>.size + MemoryLayout<ContextDetector>.size
            + MemoryLayout<RangeDetector>.size + KNNConformalDetector().heapBytes + ContextDetector().heapBytes + 32
            + MemoryLayout<CompositeDetector.Component>.stride * 4 + 32 + 8 * 4
    }

    /// The periodic detector at its defaults, a candidate component.
    static let periodic = DetectorSpec.periodic(block: Interval(seconds: 1_800), alpha: 0.01, threshold: 3, warmup: 100)

    /// The adaptive resonance detector at its defaults, a candidate component.
    static let adaptiveResonance = DetectorSpec.adaptiveResonance(step: 5, window: 8, levels: 80, learning: 400, capacity: 64, threshold: 0.5)

    /// The ensembles of ewma, knn_conformal and context, then the same with adaptive_resonance
    /// (weights ewma, knn, context, adaptive_resonance), each with three refractory periods.
    static var candidates: [Candidate] {
        var list: [Candidate] = []
        let weights: [(Double, Double, Double, Double)] = [(1, 1, 0, 0), (1, 2, 0, 0), (1, 1, 1, 0), (1, 2, 1, 0), (1, 1, 0.5, 0), (0, 1, 1, 0),
                                                           (1, 2, 1, 1), (1, 2, 1, 2), (1, 1, 0, 1), (1, 0, 1, 1)]
        for (e, k, c, a) in weights {
            for hours in [8.0, 16, 32] {
                let components = [(AutoPreset.ewma, e), (AutoPreset.knn, k), (AutoPreset.context, c), (adaptiveResonance, a)]
                    .filter { $0.1 > 0 }.map { DetectorSpec.WeightedDetector(detector: $0.0, weight: $0.1) }
                var name = String(format: "ewma %g, knn %g, context %g, refractory %gh", e, k, c, hours)
                if a > 0 { name = String(format: "ewma %g, knn %g, context %g, adaptive_resonance %g, refractory %gh", e, k, c, a, hours) }
                list.append(Candidate(name: name, spec: .composite(components: components, threshold: 0.73,
                                                                   refractory: Interval(seconds: hours * 3600))))
            }
        }
        // The gated ensembles: the mean of ewma ×1, knn ×2, context ×1, with `range` (tolerance 0
        // or 0.05) as a gate, alone or with adaptive_resonance as a second gate; the composite's
        // threshold (where a gate at its limit lands, and what starts the refractory period) and
        // the refractory period.
        for tolerance in [0.0, 0.05] {
            for threshold in [0.73, 0.8, 0.85] {
                for resonance in [false, true] {
                    for hours in [8.0, 16, 32] {
                        var components = [(AutoPreset.ewma, 1.0), (AutoPreset.knn, 2), (AutoPreset.context, 1)]
                            .map { DetectorSpec.WeightedDetector(detector: $0.0, weight: $0.1) }
                        components.append(.init(detector: .range(tolerance: tolerance, warmup: 100), weight: 1, gate: true))
                        if resonance { components.append(.init(detector: adaptiveResonance, weight: 1, gate: true)) }
                        let name = String(format: "ewma 1, knn 2, context 1, gates range %g%@, threshold %g, refractory %gh", tolerance,
                                          resonance ? " and adaptive_resonance" : "", threshold, hours)
                        list.append(Candidate(name: name, spec: .composite(components: components, threshold: threshold,
                                                                           refractory: Interval(seconds: hours * 3600))))
                    }
                }
            }
        }
        // The ensembles with `periodic`: the mean of ewma ×e, knn_conformal ×k, context ×1 and
        // periodic ×p, `range` (tolerance 0) as a gate; threshold and refractory period.
        for (e, k, p) in [(0.0, 1.0, 2.0), (0, 1, 3), (0, 1, 4), (0, 2, 2), (0, 2, 3), (0, 2, 4),
                          (1, 1, 2), (1, 1, 3), (1, 1, 4), (1, 2, 2), (1, 2, 3), (1, 2, 4)] {
            for threshold in [0.73, 0.8] {
                for hours in [8.0, 16, 32] {
                    let components = [(AutoPreset.ewma, e), (AutoPreset.knn, k), (AutoPreset.context, 1), (periodic, p)]
                        .filter { $0.1 > 0 }.map { DetectorSpec.WeightedDetector(detector: $0.0, weight: $0.1) }
                        + [.init(detector: AutoPreset.range, weight: 1, gate: true)]
                    let name = String(format: "ewma %g, knn %g, context 1, periodic %g, gate range 0, threshold %g, refractory %gh",
                                      e, k, p, threshold, hours)
                    list.append(Candidate(name: name, spec: .composite(components: components, threshold: threshold,
                                                                       refractory: Interval(seconds: hours * 3600))))
                }
            }
        }
        return list
    }

    static func outputs(_ spec: DetectorSpec, _ corpus: NABCorpus) -> [String: [Double]] {
        var outputs: [String: [Double]] = [:]
        for series in corpus.series {
            var detector = Detectors.make(spec)
            outputs[series.key] = zip(series.timestamps, series.values).map { detector.observe(time: $0, value: $1).score }
        }
        return outputs
    }

    /// Whether `auto` could be this candidate: one with adaptive_resonance runs at about 60% of
    /// the speed of one without (docs/benchmarks.md, "detect-throughput"), below `auto`'s
    /// target of 1 M samples/s on one core.
    static func meetsThroughput(_ candidate: Candidate) -> Bool {
        guard case .composite(let components, _, _) = candidate.spec else { return true }
        return !components.contains { $0.detector.kind == .adaptiveResonance }
    }

    /// The report lines and the JSON folds: over every candidate, then over those that meet
    /// `auto`'s throughput target (among which `auto` was chosen).
    static func run(_ corpus: NABCorpus) throws -> (lines: [String], folds: [[String: Any]]) {
        let scored = candidates.map { ($0, outputs($0.spec, corpus)) }
        let (allLines, allFolds) = try folds(scored, corpus, title: "\(scored.count) candidate ensembles")
        let fast = scored.filter { meetsThroughput($0.0) }
        let (fastLines, fastFolds) = try folds(fast, corpus, title: "the \(fast.count) without adaptive_resonance, which meet auto's throughput target")
        return (allLines + fastLines, allFolds.map { $0.merging(["candidates": "all"]) { a, _ in a } }
                    + fastFolds.map { $0.merging(["candidates": "meeting the throughput target"]) { a, _ in a } })
    }

    private static func folds(_ scored: [(Candidate, [String: [Double]])], _ corpus: NABCorpus,
                              title: String) throws -> (lines: [String], folds: [[String: Any]]) {
        var lines = ["", "leave one corpus out (\(title); chosen on the others at their optimal threshold, standard profile):"]
        var folds: [[String: Any]] = []
        let all = try scored.map { ($0.0, try NABScorer.score(corpus: corpus, outputs: $0.1).scores[0]) }
        if let best = all.max(by: { $0.1.normalised < $1.1.normalised }) {
            lines.append(String(format: "  on all corpora: %@ scores %.2f at %.4f", best.0.name, best.1.normalised, best.1.threshold))
        }
        for held in NABCorpora.names(corpus) {
            let training = NABCorpora.subset(corpus, Set(NABCorpora.names(corpus)).subtracting([held]))
            let test = NABCorpora.subset(corpus, [held])
            var best: (Candidate, NABProfileScore, [String: [Double]])?
            for (candidate, outputs) in scored {
                let score = try NABScorer.score(corpus: training, outputs: outputs).scores[0]
                if best == nil || score.normalised > best!.1.normalised { best = (candidate, score, outputs) }
            }
            guard let (chosen, trained, outputs) = best else { continue }
            let result = try NABScorer.score(corpus: test, outputs: outputs, profile: .standard, threshold: trained.threshold)
            let heldText = test.windowCount == 0 ? "no windows, \(result.falsePositives) FP rows"
                : String(format: "%.2f (TP/FN/FP %d/%d/%d)", result.normalised, result.truePositives, result.falseNegatives, result.falsePositives)
            lines.append(String(format: "  held out %@: chose %@ (others %.2f at %.4f); held-out %@", held, chosen.name,
                                trained.normalised, trained.threshold, heldText))
            folds.append(["held_out": held, "chosen": chosen.name, "training_score": trained.normalised,
                          "threshold": trained.threshold, "held_out_score": result.normalised,
                          "held_out_windows": test.windowCount, "held_out_false_positives": result.falsePositives])
        }
        return (lines, folds)
    }
}
