import Foundation
import MedicDetect
import MedicModel

/// `nab`: a NAB folder scored by `NABScorer` (by default the five-series sample the repository
/// ships in `data/nab`; `--nab DIR` for a larger one). First the published outputs of NAB's own
/// detectors (under `results/`), reproduced, which checks the scorer; then every built-in Medic
/// detector, fed each series afresh.
enum NABBenchmark {
    /// The published detectors' scores on the 31-series NAB subset docs/benchmarks.md describes
    /// (31 series, 53 windows): standard, reward low FP, reward low FN. Shown beside a corpus of
    /// that shape only; on any other corpus they would compare unlike things.
    static let subsetFigures: [String: [Double]] = [
        "numenta": [69.5, 62.9, 74.0],
        "windowedGaussian": [37.7, 32.7, 40.9],
    ]

    static func run(directory: URL, folds: Bool = false) throws {
        let started = Date()
        let corpus = try NABCorpus.load(from: directory)
        let loadSeconds = Date().timeIntervalSince(started)
        let readmeFigures = corpus.series.count == 31 && corpus.windowCount == 53 ? subsetFigures : [:]
        var lines = [
            "nab: \(corpus.series.count) series, \(corpus.windowCount) windows, \(corpus.rowCount) rows (\(directory.path))",
            String(format: "  corpus loaded in %.3f s; normalised scores, thresholds optimised on this subset", loadSeconds),
            "",
            readmeFigures.isEmpty ? "published detectors, reproduced:"
                : "published detectors, reproduced (the 31-series subset's published figure in brackets):",
            header("detector"),
        ]
        var published: [[String: Any]] = []
        for detector in NABPublishedResults.detectors(in: directory) {
            let outputs = try NABPublishedResults.outputs(of: detector, in: directory, for: corpus)
            let (result, seconds) = try timedScore(corpus, outputs)
            lines.append(row(detector, result, reference: readmeFigures[detector]))
            var entry = fields(result, seconds: seconds)
            entry["detector"] = detector
            if let figures = readmeFigures[detector] { entry["readme"] = figures }
            published.append(entry)
        }

        lines += ["", "built-in detectors (defaults, then tuned for NAB), a fresh one per series:", header("detector")]
        var builtIn: [[String: Any]] = []
        var saturation: [String] = []
        var corpora: [String] = []
        for detector in BuiltInDetector.all + BuiltInDetector.tunedForNAB + BuiltInDetector.streamingFamily {
            let started = Date()
            var outputs: [String: [Double]] = [:]
            for series in corpus.series {
                var instance = Detectors.make(detector.spec(series))
                outputs[series.key] = zip(series.timestamps, series.values).map { instance.observe(time: $0, value: $1).score }
            }
            let detectSeconds = Date().timeIntervalSince(started)
            let (result, seconds) = try timedScore(corpus, outputs)
            lines.append(row(detector.name, result, reference: nil))
            var entry = fields(result, seconds: seconds)
            entry["detector"] = detector.name
            entry["spec"] = detector.description
            entry["detect_seconds"] = detectSeconds
            // A score that saturates at 1 on many rows leaves the optimiser no threshold between them.
            let saturated = outputs.values.reduce(0) { $0 + $1.count { $0 >= 1 } }
            entry["rows_scoring_1"] = saturated
            saturation.append("  \(detector.name): \(detector.description); \(saturated) rows score 1")
            let perCorpus = try NABCorpora.line(corpus, outputs, threshold: result.scores[0].threshold)
            corpora.append("  \(detector.name): \(perCorpus)")
            entry["per_corpus"] = perCorpus
            builtIn.append(entry)
        }
        lines += [""] + saturation + ["", "standard profile per corpus (each at its own optimal threshold):"] + corpora
        var crossValidation: [[String: Any]] = []
        if folds {
            let (foldLines, foldFields) = try NABCrossValidation.run(corpus)
            lines += foldLines
            crossValidation = foldFields
        }

        report("nab", [
            ("series", corpus.series.count), ("windows", corpus.windowCount), ("rows", corpus.rowCount),
            ("load_seconds", loadSeconds), ("published", published), ("built_in", builtIn), ("folds", crossValidation),
        ], lines: lines)
    }

    /// The NAB folder when `--nab DIR` is not given: the sample the repository ships, `data/nab`
    /// under the current directory or under the package this file was built from.
    static func defaultDirectory() -> URL {
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [current, packageRoot].map { $0.appendingPathComponent("data/nab").standardizedFileURL }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("labels").path) }
            ?? candidates[0]
    }

    private static func timedScore(_ corpus: NABCorpus, _ outputs: [String: [Double]]) throws -> (NABResult, Double) {
        let started = Date()
        let result = try NABScorer.score(corpus: corpus, outputs: outputs)
        return (result, Date().timeIntervalSince(started))
    }

    private static func header(_ first: String) -> String {
        "  " + first.padding(toLength: 34, withPad: " ", startingAt: 0)
            + ["standard", "low FP", "low FN"].map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined()
            + "threshold       TP/FN/FP (standard)"
    }

    private static func row(_ name: String, _ result: NABResult, reference: [Double]?) -> String {
        var text = "  " + name.padding(toLength: 34, withPad: " ", startingAt: 0)
        for (i, score) in result.scores.prefix(3).enumerated() {
            var cell = String(format: "%6.2f", score.normalised)
            if let reference { cell += String(format: " (%.1f)", reference[i]) }
            text += cell.padding(toLength: 16, withPad: " ", startingAt: 0)
        }
        if let standard = result.scores.first {
            text += String(format: "%.12g", standard.threshold).padding(toLength: 16, withPad: " ", startingAt: 0)
                + "\(standard.truePositives)/\(standard.falseNegatives)/\(standard.falsePositives)"
        }
        return text
    }

    private static func fields(_ result: NABResult, seconds: Double) -> [String: Any] {
        var profiles: [String: Any] = [:]
        for score in result.scores {
            profiles[score.profile.name] = [
                "normalised": score.normalised, "raw": score.raw, "threshold": score.threshold,
                "true_positives": score.truePositives, "false_negatives": score.falseNegatives,
                "false_positives": score.falsePositives,
            ] as [String: Any]
        }
        return ["profiles": profiles, "score_seconds": seconds]
    }
}

/// A built-in detector as the benchmark configures it: the loader's defaults (docs/format.md,
/// "Anomaly rules"), and for the two detectors that have none a form derived from each series.
struct BuiltInDetector: Sendable {
    var name: String
    var description: String
    var spec: @Sendable (NABSeries) -> DetectorSpec

    static let movingAverage = DetectorSpec.movingAverage(window: 100, k: 3)
    static let ewma = DetectorSpec.ewma(alpha: 0.2, threshold: 3, warmup: 30)
    static let iqr = DetectorSpec.iqr(window: 100, multiplier: 1.5)

    static let all: [BuiltInDetector] = [
        BuiltInDetector(
            name: "threshold", description: "> the highest value of the series' probation rows (its first 15%, at most 750)",
            spec: { series in
                let probation = series.values.prefix(max(1, NABScorer.probationRows(series.values.count)))
                return .threshold(op: .greater, value: .number(probation.max() ?? 0))
            }),
        BuiltInDetector(name: "moving_average", description: "defaults: window 100, k 3", spec: { _ in movingAverage }),
        BuiltInDetector(name: "ewma", description: "defaults: alpha 0.2, threshold 3, warmup 30", spec: { _ in ewma }),
        BuiltInDetector(name: "iqr", description: "defaults: window 100, multiplier 1.5", spec: { _ in iqr }),
        BuiltInDetector(
            name: "rate_of_change", description: "50% within 3 of the series' median sampling intervals, direction both",
            spec: { series in
                .rateOfChange(change: Percentage(50), within: Interval(seconds: 3 * medianInterval(series.timestamps)),
                              direction: .both)
            }),
        BuiltInDetector(name: "seasonal", description: "defaults: low 5, high 95, min_samples 4",
                        spec: { _ in .seasonal(low: 5, high: 95, minSamples: 4) }),
        BuiltInDetector(
            name: "composite", description: "moving_average, ewma and iqr at their defaults, weight 1 each, threshold 0.5",
            spec: { _ in
                .composite(components: [movingAverage, ewma, iqr].map { .init(detector: $0, weight: 1) }, threshold: 0.5)
            }),
    ]

    /// The named presets (`DetectorPreset`, which docs/detection.md's "NAB scores" describes), one
    /// row each, read from the registry rules and `medic detect` use, so the three cannot drift.
    static let tunedForNAB: [BuiltInDetector] = DetectorPreset.all.map { preset in
        BuiltInDetector(name: preset.name, description: preset.description, spec: { _ in preset.spec })
    }

    /// The median gap between consecutive timestamps (NAB's series are regular, with a few
    /// repeated or missing rows).
    static func medianInterval(_ timestamps: [Double]) -> Double {
        let gaps = zip(timestamps.dropFirst(), timestamps).map { $0 - $1 }.sorted()
        return gaps.isEmpty ? 0 : gaps[gaps.count / 2]
    }
}
