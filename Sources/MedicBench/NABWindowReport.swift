import Foundation
import MedicDetect
import MedicModel

/// `nab --windows NAME`: for one detector row of `nab` (a preset such as `auto`, or a row of the
/// streaming family), at its optimal standard threshold on the corpus, each series' windows with
/// the first detection in each (its row, time, how far into the window, its score) or the
/// highest score in a missed one, and each false positive (row, time, score): what a detector
/// misses and where it cries wolf, the per-window view the aggregate score hides.
enum NABWindowReport {
    static func run(directory: URL, name: String) throws {
        let corpus = try NABCorpus.load(from: directory)
        let rows = BuiltInDetector.all + BuiltInDetector.tunedForNAB + BuiltInDetector.streamingFamily
        guard let detector = rows.first(where: { $0.name == name }) else {
            FileHandle.standardError.write(Data("nab --windows: no row named '\(name)'; rows: \(rows.map(\.name).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        var outputs: [String: [Double]] = [:]
        for series in corpus.series {
            var instance = Detectors.make(detector.spec(series))
            outputs[series.key] = zip(series.timestamps, series.values).map { instance.observe(time: $0, value: $1).score }
        }
        let standard = try NABScorer.score(corpus: corpus, outputs: outputs).scores[0]
        let threshold = standard.threshold
        print(String(format: "%@ (%@): standard %.2f at threshold %.4f, %d windows found, %d missed, %d false positives",
                     name, detector.description, standard.normalised, threshold, standard.truePositives, standard.falseNegatives,
                     standard.falsePositives))
        for series in corpus.series {
            let scores = outputs[series.key] ?? []
            let probation = NABScorer.probationRows(scores.count)
            print("\(series.key): \(scores.count) rows, probation \(probation)")
            for window in series.windows where window.upperBound >= probation {
                let first = window.first { $0 >= probation && scores[$0] >= threshold }
                let span = "rows \(window.lowerBound)-\(window.upperBound) (\(time(series, window.lowerBound)) to \(time(series, window.upperBound)))"
                if let first {
                    let into = Double(first - window.lowerBound) / Double(window.count) * 100
                    print(String(format: "  detected  %@: row %d, %@, %.0f%% into it, score %.4f", span, first, time(series, first), into,
                                 scores[first]))
                } else {
                    let peak = window.map { scores[$0] }.max() ?? 0
                    print(String(format: "  missed    %@: highest score %.4f", span, peak))
                }
            }
            var index = probation
            var next = 0
            while index < scores.count {
                while next < series.windows.count, series.windows[next].upperBound < index { next += 1 }
                let inside = next < series.windows.count && series.windows[next].contains(index)
                if !inside, scores[index] >= threshold {
                    print(String(format: "  false positive: row %d, %@, value %g, score %.4f", index, time(series, index), series.values[index],
                                 scores[index]))
                }
                index += 1
            }
        }
    }

    private static func time(_ series: NABSeries, _ row: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: series.timestamps[row]))
    }
}
