import Foundation

/// NAB's scoring (Lavin and Ahmad, "Evaluating Real-time Anomaly Detection Algorithms", 2015;
/// the rules as NAB v1.1 applies them, also summarised in `data/nab/README.md`):
///
/// - The first 15% of each series' rows, at most 750, are a probation period and never count.
/// - A row whose score is at or above the threshold is a detection.
/// - Inside a window `a...b` only the earliest detection counts, as a true positive worth
///   `tpWeight × S(p) / S(−1)` with `p = −(b − i + 1) / (b − a + 1)` (−1 on the left edge); a
///   window without a detection costs `fnWeight`.
/// - A detection outside every window costs `fpWeight × −S(q)` with `q = (i − b) / (b − a)`
///   measured from the nearest preceding window `a...b`; `S` is −1 when `q > 3`, when no
///   window precedes, or when that window is a single row (NAB divides by zero there).
/// - `S(x) = 2 / (1 + e^(5x)) − 1`.
/// - The threshold is the one that maximises the raw score summed over the whole corpus; among
///   equal raw scores the highest threshold wins (NAB keeps the first in its descending sweep).
/// - Normalised = 100 × (raw − null) / (perfect − null) where null misses every window and
///   perfect detects each at its left edge. A window that lies wholly in the probation period
///   has no scored row, so it costs nothing in the raw or the null score, but the perfect score
///   counts it: NAB's normalisation takes the perfect score from every window of the labels
///   file (its sweep drops probation rows, so the null detector never misses such a window).
public enum NABScorer {
    public static let probationFraction = 0.15
    /// 15% of 5,000 rows.
    public static let probationCap = 750

    /// Rows at the start of a series of `rowCount` rows that are not scored.
    public static func probationRows(_ rowCount: Int) -> Int {
        min(Int((probationFraction * Double(rowCount)).rounded(.down)), probationCap)
    }

    /// NAB's scaled sigmoid: near 1 at −1 (the left edge of a window), 0 at 0 (its right
    /// edge), near −1 at 1 and exactly −1 beyond 3.
    public static func scaledSigmoid(_ x: Double) -> Double {
        x > 3 ? -1 : 2 / (1 + exp(5 * x)) - 1
    }

    /// Scores `outputs` (per series key, one anomaly score per row) under every profile of the
    /// corpus, each at its own optimal threshold. Exact: every distinct score is tried, in
    /// one descending sweep over the rows sorted once (O(n log n) for n rows).
    /// Throws when a series has no output, a different number of scores than rows, or a NaN.
    public static func score(corpus: NABCorpus, outputs: [String: [Double]]) throws -> NABResult {
        var points = try NABPoints(corpus: corpus, outputs: outputs)
        points.sortByScoreDescending()
        return NABResult(scores: corpus.profiles.map { points.sweep($0) })
    }

    /// Scores `outputs` under `profile` at a given threshold (a row is a detection when its
    /// score is at or above it).
    public static func score(corpus: NABCorpus, outputs: [String: [Double]], profile: NABProfile,
                             threshold: Double) throws -> NABProfileScore {
        try NABPoints(corpus: corpus, outputs: outputs).evaluate(profile, threshold: threshold)
    }
}

/// The scored rows of a corpus (those after each series' probation period), each with what it
/// is worth as a detection before the profile's weights: the fraction `S(p) / S(−1)` of a true
/// positive for a row inside a window, `S(q)` (negative) of a false positive for one outside.
struct NABPoints {
    struct Point {
        var score: Double
        var credit: Double
        /// Index into the corpus's scored windows, or −1 outside every window.
        var window: Int32
    }

    var points: [Point] = []
    /// Windows with at least one scored row.
    var windowCount = 0
    /// Every window of the corpus, those wholly in probation included: the perfect detector's.
    var labelledWindows = 0
    var maxScore = 0.0

    init(corpus: NABCorpus, outputs: [String: [Double]]) throws {
        points.reserveCapacity(corpus.rowCount)
        let leftEdge = NABScorer.scaledSigmoid(-1)
        for series in corpus.series {
            guard let scores = outputs[series.key] else { throw NABError.missingOutput(file: series.key) }
            let rows = series.timestamps.count
            guard scores.count == rows else {
                throw NABError.outputLength(file: series.key, expected: rows, actual: scores.count)
            }
            let probation = NABScorer.probationRows(rows)
            let windows = series.windows
            labelledWindows += windows.count
            // Scored windows get corpus-wide indices; a window wholly in probation gets none.
            let firstScored = windows.firstIndex { $0.upperBound >= probation } ?? windows.count
            let base = windowCount - firstScored
            windowCount += windows.count - firstScored
            var next = 0 // the first window that does not end before the current row
            for i in probation..<max(probation, rows) {
                let score = scores[i]
                guard !score.isNaN else { throw NABError.invalidScore(file: series.key, row: i) }
                maxScore = max(maxScore, score)
                while next < windows.count, windows[next].upperBound < i { next += 1 }
                if next < windows.count, windows[next].contains(i) {
                    let window = windows[next]
                    let position = -Double(window.upperBound - i + 1) / Double(window.count)
                    points.append(Point(score: score, credit: NABScorer.scaledSigmoid(position) / leftEdge,
                                        window: Int32(base + next)))
                } else if next > 0, windows[next - 1].count > 1 {
                    let previous = windows[next - 1]
                    let distance = Double(i - previous.upperBound) / Double(previous.count - 1)
                    points.append(Point(score: score, credit: NABScorer.scaledSigmoid(distance), window: -1))
                } else {
                    points.append(Point(score: score, credit: -1, window: -1))
                }
            }
        }
    }

    mutating func sortByScoreDescending() {
        points.sort { $0.score > $1.score }
    }

    /// A threshold above every score: nothing is detected.
    var noDetectionThreshold: Double { max(1.1, maxScore.nextUp) }

    func baseline(_ profile: NABProfile) -> (null: Double, perfect: Double) {
        (-profile.falseNegativeWeight * Double(windowCount), profile.truePositiveWeight * Double(labelledWindows))
    }

    /// The optimal threshold for `profile`, with the points sorted by descending score: lowers
    /// the threshold one distinct score at a time, updating the raw score by what the rows at
    /// that score add (a first detection in a window, an earlier one, or a false positive).
    func sweep(_ profile: NABProfile) -> NABProfileScore {
        let (nullRaw, perfectRaw) = baseline(profile)
        var earliest = [Double](repeating: -.infinity, count: windowCount)
        var raw = nullRaw, detected = 0, falsePositives = 0
        var best = (raw: raw, threshold: noDetectionThreshold, detected: 0, falsePositives: 0)
        var i = 0
        while i < points.count {
            let threshold = points[i].score
            while i < points.count, points[i].score == threshold {
                let point = points[i]
                if point.window < 0 {
                    raw += profile.falsePositiveWeight * point.credit
                    falsePositives += 1
                } else {
                    let w = Int(point.window)
                    if earliest[w] == -.infinity {
                        raw += profile.falseNegativeWeight + profile.truePositiveWeight * point.credit
                        detected += 1
                        earliest[w] = point.credit
                    } else if point.credit > earliest[w] {
                        raw += profile.truePositiveWeight * (point.credit - earliest[w])
                        earliest[w] = point.credit
                    }
                }
                i += 1
            }
            if raw > best.raw { best = (raw, threshold, detected, falsePositives) }
        }
        return NABProfileScore(profile: profile, threshold: best.threshold, raw: best.raw, nullRaw: nullRaw,
                               perfectRaw: perfectRaw, truePositives: best.detected,
                               falseNegatives: windowCount - best.detected, falsePositives: best.falsePositives)
    }

    /// The score at a fixed threshold, straight from the rules (no sorting).
    func evaluate(_ profile: NABProfile, threshold: Double) -> NABProfileScore {
        let (nullRaw, perfectRaw) = baseline(profile)
        var earliest = [Double?](repeating: nil, count: windowCount)
        var falsePositiveCost = 0.0, falsePositives = 0
        for point in points where point.score >= threshold {
            if point.window < 0 {
                falsePositiveCost += profile.falsePositiveWeight * point.credit
                falsePositives += 1
            } else {
                earliest[Int(point.window)] = max(earliest[Int(point.window)] ?? -.infinity, point.credit)
            }
        }
        let windowScore = earliest.reduce(0.0) { sum, credit in
            sum + (credit.map { profile.truePositiveWeight * $0 } ?? -profile.falseNegativeWeight)
        }
        let detected = earliest.count { $0 != nil }
        return NABProfileScore(profile: profile, threshold: threshold, raw: windowScore + falsePositiveCost, nullRaw: nullRaw,
                               perfectRaw: perfectRaw, truePositives: detected, falseNegatives: windowCount - detected,
                               falsePositives: falsePositives)
    }
}
