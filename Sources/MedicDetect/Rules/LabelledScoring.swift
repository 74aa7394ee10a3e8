import MedicModel

/// A replay's firings scored against labelled windows, rule by rule, by NAB's rules
/// (`NABScorer`): what `medic backtest --labels` prints.
///
/// Feed it every sample before the engine (`observe`), then the engine's events (`record`).
/// A **firing** is a series' anomaly lasting its rule's `for`: one that opened an incident, or
/// one folded into an incident already active; a firing the rule's `cooldown` suppressed started
/// nothing and does not count. A firing inside a window detects it; outside every window it is
/// a false positive. As in NAB, the first 15% of each series' rows (at most 750) are a
/// probation period: firings there do not count, nor do windows that end there as missed
/// (NAB's normalisation still counts them in the perfect score, `NABScorer`).
///
/// Memory: the time of every sample of each labelled series (8 bytes a sample), and each firing.
public struct LabelledScoring: Sendable {
    public let labels: LabelledWindows
    public let profile: NABProfile
    private let fileKey: String?
    /// Series key → index into `series`, or nil for a series no key names.
    private var index: [String: Int?] = [:]
    private var series: [LabelledSeries] = []
    private var firings: [Firing] = []

    struct LabelledSeries: Sendable {
        var key: String
        var labelKey: String
        /// The rules that read it.
        var rules: [String]
        var times: [Double] = []
    }

    public struct Firing: Sendable, Hashable {
        public var rule: String
        public var series: String
        public var time: Double
        public var value: Double
        /// The detector's score; nil for a firing folded into an incident (the engine does not say).
        public var score: Double?
        /// The series' row (sample) that fired, counted from 0.
        public var row: Int
    }

    public init(labels: LabelledWindows, profile: NABProfile, dataPath: String) {
        self.labels = labels
        self.profile = profile
        fileKey = labels.fileKey(dataPath: dataPath)
    }

    /// A sample of the data, before the engine ingests it.
    public mutating func observe(_ sample: Sample, engine: RuleEngine) {
        let key = sample.seriesKey
        let slot: Int?
        if let known = index[key] {
            slot = known
        } else {
            if let labelKey = labels.key(series: key, metric: sample.metric, fileKey: fileKey) {
                series.append(LabelledSeries(key: key, labelKey: labelKey, rules: engine.rules(selecting: sample.metric, labels: sample.labels)))
                slot = series.count - 1
            } else {
                slot = nil
            }
            index[key] = .some(slot)
        }
        if let slot { series[slot].times.append(sample.time) }
    }

    /// The engine's events for the last sample (or the passing of time).
    public mutating func record(_ events: [RuleEvent]) {
        for event in events {
            // A firing comes with the sample that completed it: its series' latest row.
            switch event {
            case .firing(let incident):
                if let row = latestRow(incident.seriesKey) {
                    firings.append(Firing(rule: incident.rule, series: incident.seriesKey, time: incident.firedAt,
                                          value: incident.value, score: incident.score, row: row))
                }
            case .suppressed(let s) where s.reason == .alreadyFiring:
                if let row = latestRow(s.seriesKey) {
                    firings.append(Firing(rule: s.rule, series: s.seriesKey, time: s.time, value: s.value, score: nil, row: row))
                }
            default:
                break
            }
        }
    }

    private func latestRow(_ seriesKey: String) -> Int? {
        guard let slot = index[seriesKey] ?? nil, !series[slot].times.isEmpty else { return nil }
        return series[slot].times.count - 1
    }

    /// The scores, rules in `order` (the engine's `statistics` order).
    public func result(order: [String]) throws(LabelledWindows.Failure) -> LabelledResult {
        var outside: [LabelledResult.Window] = []
        var scored: [Scored] = []
        for s in series {
            var rows: [ClosedRange<Int>] = [], kept: [LabelledWindows.Window] = []
            for window in labels.windows[s.labelKey] ?? [] {
                // NAB's own mapping of a window's times to rows, one window at a time: a window
                // holding no row of this series is reported, not an error.
                let one = try? NABSeries(key: s.key, timestamps: s.times, values: [], windowTimes: [(window.start, window.end)])
                if let range = one?.windows.first {
                    rows.append(range)
                    kept.append(window)
                } else {
                    outside.append(.init(series: s.key, labelKey: s.labelKey, start: window.start, end: window.end))
                }
            }
            if zip(rows, rows.dropFirst()).contains(where: { $0.upperBound >= $1.lowerBound }) {
                // Only when the data's times step back: windows disjoint in time, rows not.
                throw LabelledWindows.Failure(description: "\(labels.file): \"\(s.labelKey)\": two windows hold the same rows of \(s.key)")
            }
            scored.append(Scored(series: s, nab: NABSeries(key: s.key, timestamps: s.times, values: [], windows: rows), windows: kept))
        }
        var rules: [LabelledResult.RuleScore] = []
        var unscored: [String] = []
        for rule in order {
            let mine = scored.filter { $0.series.rules.contains(rule) }
            guard !mine.isEmpty else { unscored.append(rule); continue }
            rules.append(try score(rule, over: mine))
        }
        let matched = Set(series.map(\.labelKey))
        return LabelledResult(file: labels.file, profile: profile, rules: rules, unscoredRules: unscored,
                              unmatchedKeys: labels.windows.keys.filter { !matched.contains($0) }.sorted(),
                              windowsOutsideData: outside)
    }

    /// A labelled series with its windows as rows (`nab.windows`) and as labelled (`windows`).
    struct Scored: Sendable {
        var series: LabelledSeries
        var nab: NABSeries
        var windows: [LabelledWindows.Window]
    }

    private func score(_ rule: String, over mine: [Scored]) throws(LabelledWindows.Failure) -> LabelledResult.RuleScore {
        var result = LabelledResult.RuleScore(rule: rule, series: mine.map(\.series.key))
        var outputs: [String: [Double]] = [:]
        for entry in mine {
            let s = entry.series, nab = entry.nab
            var detections = [Double](repeating: 0, count: s.times.count)
            let probation = NABScorer.probationRows(s.times.count)
            var firstDetection: [Int: Firing] = [:]
            for firing in firings where firing.rule == rule && firing.series == s.key {
                let row = firing.row
                detections[row] = 1
                guard row >= probation else { result.firingsInProbation += 1; continue }
                if let window = nab.windows.firstIndex(where: { $0.contains(row) }) {
                    result.firingsInWindows += 1
                    if firstDetection[window] == nil { firstDetection[window] = firing }
                } else {
                    result.falsePositives.append(firing)
                }
            }
            outputs[s.key] = detections
            for (i, rows) in nab.windows.enumerated() where rows.upperBound >= probation {
                let window = LabelledResult.Window(series: s.key, labelKey: s.labelKey, start: entry.windows[i].start,
                                                   end: entry.windows[i].end)
                if let firing = firstDetection[i] {
                    result.detected.append(.init(window: window, firing: firing))
                } else {
                    result.missed.append(window)
                }
            }
        }
        let corpus = NABCorpus(series: mine.map(\.nab), profiles: [profile])
        do {
            // A firing is a detection: score 1 against a threshold of 0.5.
            result.nab = try NABScorer.score(corpus: corpus, outputs: outputs, profile: profile, threshold: 0.5)
        } catch {
            throw LabelledWindows.Failure(description: "\(labels.file): cannot score rule \(rule): \(error)")
        }
        return result
    }
}

/// What `LabelledScoring` found: per rule, its precision, recall, NAB score, and each window
/// detected or missed and each false positive.
public struct LabelledResult: Sendable {
    public struct Window: Sendable, Hashable {
        public var series: String
        public var labelKey: String
        public var start: Double
        public var end: Double
    }

    public struct Detection: Sendable, Hashable {
        public var window: Window
        /// The first firing inside it.
        public var firing: LabelledScoring.Firing
        /// How far into the window it fired: 0 at its start, 1 at its end.
        public var delay: Double {
            window.end > window.start ? min(1, max(0, (firing.time - window.start) / (window.end - window.start))) : 0
        }
    }

    public struct RuleScore: Sendable {
        public var rule: String
        public var series: [String]
        public var detected: [Detection] = []
        public var missed: [Window] = []
        public var falsePositives: [LabelledScoring.Firing] = []
        public var firingsInWindows = 0
        public var firingsInProbation = 0
        public var nab: NABProfileScore?

        init(rule: String, series: [String]) {
            self.rule = rule
            self.series = series
        }

        /// Windows scored (those that end after the probation period).
        public var windows: Int { detected.count + missed.count }
        /// Firings inside a window over all firings scored; nil when it never fired.
        public var precision: Double? {
            let all = firingsInWindows + falsePositives.count
            return all == 0 ? nil : Double(firingsInWindows) / Double(all)
        }
        /// Windows detected over windows scored; nil when there is no window.
        public var recall: Double? { windows == 0 ? nil : Double(detected.count) / Double(windows) }
        /// Windows missed or false positives: what makes `medic backtest --labels` exit 1.
        public var hasFindings: Bool { !missed.isEmpty || !falsePositives.isEmpty }
    }

    public var file: String
    public var profile: NABProfile
    public var rules: [RuleScore]
    /// Rules that read no labelled series.
    public var unscoredRules: [String]
    /// Keys of the labels file that named no series of the data.
    public var unmatchedKeys: [String]
    /// Windows holding no sample of their series (left out of the scores).
    public var windowsOutsideData: [Window]
}

extension RuleDefinition {
    /// Whether the rule reads a series of `metric` with `labels`.
    func selects(metric: String, labels: [String: String]) -> Bool {
        switch body {
        case .series(_, let matcher): matcher.metric == metric && matcher.matches(labels)
        case .condition(_, let matchers): matchers.contains { $0.metric == metric && $0.matches(labels) }
        }
    }
}
