import Foundation
import MedicDetect
import XCTest

/// The NAB scorer on series small enough to score by hand, then on the published outputs of
/// two NAB detectors, whose per-file scores NAB publishes (the sample in `data/nab`).
///
/// The hand-computed series have 100 rows, so the first 15 are probation, and one window over
/// rows 40...49 (10 rows) unless a test says otherwise. `S(x) = 2 / (1 + e^(5x)) − 1 = −tanh(5x/2)`,
/// so `S(−1) = tanh(2.5) = 0.98661429815`.
final class NABScorerTests: XCTestCase {
    private let standard = NABProfile.standard

    // MARK: - One window

    func testDetectionOnTheLeftEdgeEarnsTheFullTruePositiveWeight() throws {
        let score = try scoreAt(0.5, detections: [40])
        XCTAssertEqual(score.raw, 1, accuracy: 1e-12)
        XCTAssertEqual(score.normalised, 100, accuracy: 1e-9)
        XCTAssertEqual([score.truePositives, score.falseNegatives, score.falsePositives], [1, 0, 0])
    }

    func testDetectionOnTheRightEdgeEarnsAQuarter() throws {
        // p = −(49 − 49 + 1) / 10 = −0.1: tanh(0.25) / tanh(2.5).
        let score = try scoreAt(0.5, detections: [49])
        XCTAssertEqual(score.raw, 0.24824154977542992, accuracy: 1e-12)
        XCTAssertEqual(score.normalised, 100 * (0.24824154977542992 + 1) / 2, accuracy: 1e-9)
    }

    func testOnlyTheEarliestDetectionInAWindowCounts() throws {
        // Rows 42 and 45: p = −(49 − 42 + 1) / 10 = −0.8, tanh(2) / tanh(2.5); row 45 adds nothing.
        let score = try scoreAt(0.5, detections: [42, 45])
        XCTAssertEqual(score.raw, 0.9771068409226047, accuracy: 1e-12)
        XCTAssertEqual([score.truePositives, score.falsePositives], [1, 0])
    }

    func testAMissedWindowCostsTheFalseNegativeWeight() throws {
        XCTAssertEqual(try scoreAt(0.5, detections: []).raw, -1, accuracy: 1e-12)
        XCTAssertEqual(try scoreAt(0.5, detections: [], profile: .rewardLowFalseNegatives).raw, -2, accuracy: 1e-12)
        XCTAssertEqual(try scoreAt(0.5, detections: []).falseNegatives, 1)
    }

    // MARK: - False positives

    func testFalsePositiveRightAfterAWindowCostsLittle() throws {
        // Row 50: q = (50 − 49) / (10 − 1) = 1/9, S(1/9) = −tanh(5/18); the window is missed.
        let score = try scoreAt(0.5, detections: [50])
        XCTAssertEqual(score.raw, -1 + 0.11 * -0.2708471185167214, accuracy: 1e-12)
        XCTAssertEqual([score.truePositives, score.falseNegatives, score.falsePositives], [0, 1, 1])
    }

    func testFalsePositiveFarAfterAWindowCostsTheFullWeight() throws {
        // Row 90: q = 41/9 > 3, so S = −1.
        XCTAssertEqual(try scoreAt(0.5, detections: [90]).raw, -1.11, accuracy: 1e-12)
        XCTAssertEqual(try scoreAt(0.5, detections: [90], profile: .rewardLowFalsePositives).raw, -1.22, accuracy: 1e-12)
    }

    func testFalsePositiveBeforeAnyWindowCostsTheFullWeight() throws {
        XCTAssertEqual(try scoreAt(0.5, detections: [20]).raw, -1.11, accuracy: 1e-12)
    }

    func testFalsePositiveAfterASingleRowWindowCostsTheFullWeight() throws {
        let score = try scoreAt(0.5, detections: [41], windows: [40...40])
        XCTAssertEqual(score.raw, -1.11, accuracy: 1e-12)
    }

    // MARK: - Probation

    func testProbationIsFifteenPercentAtMostSevenHundredFifty() {
        XCTAssertEqual(NABScorer.probationRows(100), 15)
        XCTAssertEqual(NABScorer.probationRows(4032), 604)
        XCTAssertEqual(NABScorer.probationRows(5000), 750)
        XCTAssertEqual(NABScorer.probationRows(22_695), 750)
        XCTAssertEqual(NABScorer.probationRows(0), 0)
    }

    func testDetectionsInProbationDoNotCount() throws {
        let score = try scoreAt(0.5, detections: [0, 10, 14])
        XCTAssertEqual(score.raw, -1, accuracy: 1e-12)
        XCTAssertEqual(score.falsePositives, 0)
        // Row 15 is the first scored row.
        XCTAssertEqual(try scoreAt(0.5, detections: [15]).raw, -1.11, accuracy: 1e-12)
    }

    func testAWindowInsideProbationCountsOnlyForThePerfectDetector() throws {
        // NAB's sweep drops probation rows (so nothing is missed there), but its normalisation
        // takes the perfect score from every labelled window.
        let score = try scoreAt(0.5, detections: [], windows: [5...9])
        XCTAssertEqual([score.raw, score.nullRaw, score.perfectRaw, score.normalised], [0, 0, 1, 0])
        // With a scored window detected on its left edge: raw 1, null −1, perfect 2:
        // 100 × (1 + 1) / (2 + 1) = 66.67, not 100.
        let both = try scoreAt(0.5, detections: [40], windows: [5...9, 40...49])
        XCTAssertEqual([both.raw, both.nullRaw, both.perfectRaw], [1, -1, 2])
        XCTAssertEqual(both.normalised, 200.0 / 3, accuracy: 1e-9)
        // It still is the window a later false positive is measured from: q = (16 − 9) / 4 = 1.75.
        let after = try scoreAt(0.5, detections: [16], windows: [5...9])
        XCTAssertEqual(after.raw, 0.11 * -tanh(5 * 1.75 / 2), accuracy: 1e-12)
    }

    // MARK: - Threshold optimisation

    func testSweepFindsTheThresholdWithTheBestRawScore() throws {
        // Row 80 at 0.95: a far false positive (−0.11). Row 45 at 0.9: p = −0.5, 0.85979.
        // Row 20 at 0.8: a false positive before the window (−0.11). Row 41 at 0.7: p = −0.9,
        // 0.99130, earlier than row 45. Every other row 0: 74 more false positives.
        // Raw by threshold: >0.95 −1; 0.95 −1.11; 0.9 0.74979; 0.8 0.63979; 0.7 0.77130.
        let scores = series().scoring([80: 0.95, 45: 0.9, 20: 0.8, 41: 0.7])
        let result = try NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": scores])
        let best = try XCTUnwrap(result[profile: "standard"])
        XCTAssertEqual(best.threshold, 0.7)
        XCTAssertEqual(best.raw, -0.22 + 0.9912952980422969, accuracy: 1e-12)
        XCTAssertEqual([best.truePositives, best.falseNegatives, best.falsePositives], [1, 0, 2])
        // The sweep agrees with scoring at each candidate threshold directly.
        for threshold in [1.1, 0.95, 0.9, 0.8, 0.7, 0] {
            let direct = try NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": scores], profile: standard, threshold: threshold)
            XCTAssertLessThanOrEqual(direct.raw, best.raw + 1e-12, "threshold \(threshold)")
        }
        let at09 = try NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": scores], profile: standard, threshold: 0.9)
        XCTAssertEqual(at09.raw, -0.11 + 0.8597925669097837, accuracy: 1e-12)
    }

    func testAmongEqualRawScoresTheHighestThresholdWins() throws {
        // Lowering the threshold from 0.9 to 0.6 only adds a later detection in the same window.
        let scores = series().scoring([40: 0.9, 45: 0.6])
        let best = try XCTUnwrap(NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": scores])[profile: "standard"])
        XCTAssertEqual(best.threshold, 0.9)
        XCTAssertEqual(best.raw, 1, accuracy: 1e-12)
    }

    func testDetectingNothingWinsWhenEveryDetectionCosts() throws {
        let scores = series().scoring([20: 0.9, 60: 0.8])
        let best = try XCTUnwrap(NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": scores])[profile: "standard"])
        XCTAssertEqual(best.threshold, 1.1)
        XCTAssertEqual(best.raw, -1, accuracy: 1e-12)
        XCTAssertEqual(best.normalised, 0, accuracy: 1e-12)
    }

    func testOneThresholdServesTheWholeCorpus() throws {
        // File a: a window detected at its left edge at 0.6. File b: a far false positive at 0.7.
        // Per file the best thresholds would be 0.6 and above 0.7; together 0.6 scores
        // 1 − 0.11 − 1 = −0.11, above 0.7 scores −2, so the shared threshold is 0.6.
        let a = series(key: "a/one.csv")
        let b = series(key: "b/two.csv")
        let outputs = ["a/one.csv": a.scoring([40: 0.6]), "b/two.csv": b.scoring([90: 0.7])]
        let best = try XCTUnwrap(NABScorer.score(corpus: NABCorpus(series: [a, b]), outputs: outputs)[profile: "standard"])
        XCTAssertEqual(best.threshold, 0.6)
        XCTAssertEqual(best.raw, -0.11, accuracy: 1e-12)
        XCTAssertEqual([best.nullRaw, best.perfectRaw], [-2, 2])
        XCTAssertEqual(best.normalised, 100 * 1.89 / 4, accuracy: 1e-9)
    }

    // MARK: - Inputs

    func testRefusesOutputsThatDoNotMatchTheCorpus() {
        XCTAssertThrowsError(try NABScorer.score(corpus: corpus(), outputs: [:])) { error in
            XCTAssertEqual(error as? NABError, .missingOutput(file: "a/one.csv"))
        }
        XCTAssertThrowsError(try NABScorer.score(corpus: corpus(), outputs: ["a/one.csv": [0, 1]])) { error in
            XCTAssertEqual(error as? NABError, .outputLength(file: "a/one.csv", expected: 100, actual: 2))
        }
    }

    func testNABTimestampsAreUTCEpochSeconds() {
        // The data files' form and the window labels' form, read by the module's one parser.
        XCTAssertEqual(SeriesTimestamp.parse("2014-04-10 07:15:00"), 1_397_114_100)
        XCTAssertEqual(SeriesTimestamp.parse("2014-04-10 07:15:00.000000"), 1_397_114_100)
    }

    func testWindowsGivenByTimeTakeTheRowsBetweenTheirEnds() throws {
        let times = (0..<10).map { Double($0) * 300 }
        let series = try NABSeries(key: "a/one.csv", timestamps: times, values: times,
                                   windowTimes: [(start: 1_200, end: 2_100), (start: 250, end: 600)])
        XCTAssertEqual(series.windows, [1...2, 4...7])
        XCTAssertThrowsError(try NABSeries(key: "a/one.csv", timestamps: times, values: times,
                                           windowTimes: [(start: 310, end: 590)]))
        // A repeated end time ends the window at its first row, as NAB does.
        let repeated: [Double] = [0, 300, 600, 600, 900]
        let twice = try NABSeries(key: "a/one.csv", timestamps: repeated, values: repeated, windowTimes: [(start: 300, end: 600)])
        XCTAssertEqual(twice.windows, [1...2])
    }

    // MARK: - The published detectors on the shipped sample

    /// Every row of NAB's published per-file score tables shipped in `data/nab` (README.md there):
    /// the detector's published outputs for that file, scored alone at NAB's threshold, give NAB's
    /// raw score for the file.
    func testReproducesNABsPublishedPerFileScores() throws {
        let directory = try Self.shippedNABDirectory()
        let corpus = try NABCorpus.load(from: directory)
        XCTAssertEqual(corpus.series.count, 4)
        XCTAssertEqual(corpus.windowCount, 11)
        XCTAssertEqual(corpus.profiles.map(\.name), ["standard", "reward_low_FP_rate", "reward_low_FN_rate"])
        XCTAssertEqual(NABPublishedResults.detectors(in: directory), ["numenta", "windowedGaussian"])
        var checked = 0
        for detector in NABPublishedResults.detectors(in: directory) {
            let outputs = try NABPublishedResults.outputs(of: detector, in: directory, for: corpus)
            for table in try Self.publishedScoreTables(of: detector, in: directory) where !table.isEmpty {
                for row in table {
                    let profile = try XCTUnwrap(corpus.profiles.first { $0.name == row.profile }, row.profile)
                    let series = try XCTUnwrap(corpus.series.first { $0.key == row.file }, row.file)
                    let score = try NABScorer.score(corpus: NABCorpus(series: [series], profiles: corpus.profiles),
                                                    outputs: [row.file: try XCTUnwrap(outputs[row.file])],
                                                    profile: profile, threshold: row.threshold)
                    XCTAssertEqual(score.raw, row.score, accuracy: 1e-9, "\(detector) \(row.profile) \(row.file)")
                    checked += 1
                }
            }
        }
        // windowedGaussian, standard: one row per file. The four files together have true
        // positives, late and early, false positives near and far from windows, and missed windows.
        XCTAssertEqual(checked, 4, "every published row was compared")
    }

    /// A published row `Detector,Profile,File,Threshold,Score,...` of NAB's per-file score table.
    private struct PublishedScore {
        var profile: String
        var file: String
        var threshold: Double
        var score: Double
    }

    /// `results/<detector>/<detector>_<profile>_scores.csv`, every one present, each row read strictly.
    private static func publishedScoreTables(of detector: String, in directory: URL) throws -> [[PublishedScore]] {
        let folder = directory.appendingPathComponent("results/\(detector)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix("_scores.csv") }.sorted()
        return try names.map { name in
            let lines = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                .split(separator: "\n").dropFirst()
            return try lines.map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 10, fields[0] == detector, let threshold = Double(fields[3]), let score = Double(fields[4]) else {
                    throw NABError.malformedRow(path: name, line: 0, reason: String(line))
                }
                return PublishedScore(profile: fields[1], file: fields[2], threshold: threshold, score: score)
            }
        }
    }

    /// `<package root>/data/nab`: the NAB sample the repository ships.
    static func shippedNABDirectory() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = root.appendingPathComponent("data/nab").standardizedFileURL
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("labels/combined_windows.json").path) else {
            XCTFail("the NAB sample is missing: expected it at \(directory.path)")
            throw CocoaError(.fileNoSuchFile)
        }
        return directory
    }

    // MARK: - Helpers

    private func series(key: String = "a/one.csv", windows: [ClosedRange<Int>] = [40...49]) -> NABSeries {
        let times = (0..<100).map { Double($0) * 60 }
        return NABSeries(key: key, timestamps: times, values: times.map { _ in 0 }, windows: windows)
    }

    private func corpus(windows: [ClosedRange<Int>] = [40...49]) -> NABCorpus {
        NABCorpus(series: [series(windows: windows)])
    }

    /// The score at `threshold` of a detector that says 1 on `detections` and 0 elsewhere.
    private func scoreAt(_ threshold: Double, detections: [Int], windows: [ClosedRange<Int>] = [40...49],
                         profile: NABProfile = .standard) throws -> NABProfileScore {
        let scores = series(windows: windows).scoring(Dictionary(uniqueKeysWithValues: detections.map { ($0, 1.0) }))
        return try NABScorer.score(corpus: corpus(windows: windows), outputs: ["a/one.csv": scores], profile: profile,
                                   threshold: threshold)
    }
}

private extension NABSeries {
    /// One score per row: the given ones, 0 elsewhere.
    func scoring(_ scores: [Int: Double]) -> [Double] {
        timestamps.indices.map { scores[$0] ?? 0 }
    }
}
