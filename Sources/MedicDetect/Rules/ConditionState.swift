import MedicModel

/// The runtime of a compound trigger condition (AND / OR / NOT of comparisons; see
/// `PlaybookTrigger`): the latest reading of every series each comparison selects, and the
/// condition's `for` state.
///
/// Work per sample: the matchers of the comparisons of its metric, then one evaluation of the
/// condition, O(series selected by its comparisons). Memory: per comparison, 8 bytes + the
/// series' identity per series, at most `maxSeries` series per comparison.
struct ConditionState: Sendable {
    struct Comparison: Sendable {
        let matcher: SeriesMatcher
        let op: ComparisonOperator
        let bound: Double
        let scale: Double
    }

    struct Reading: Sendable {
        var time: Double
        var value: Double
    }

    /// What a sample did to the condition.
    enum Update {
        /// The sample is not one the condition selects.
        case unselected
        /// Selected, but it changed nothing (NaN, out of order, duplicate, or over the cap).
        case ignored(dropped: Bool)
        /// Selected and recorded; the condition was evaluated at `time`.
        case evaluated(time: Double, holds: Bool, score: Double)
    }

    let root: TriggerCondition.Node
    let comparisons: [Comparison]
    let lookback: Double
    let maxSeries: Int
    private var latest: [[SeriesIdentity: Reading]]
    private var lastEvaluation = -Double.infinity
    var tracker: SustainTracker

    init(_ condition: TriggerCondition, matchers: [SeriesMatcher], duration: Double, lookback: Double, maxSeries: Int) {
        root = condition.root
        comparisons = zip(condition.comparisons, matchers).map { comparison, matcher in
            let bound = comparison.bound.magnitude
            return Comparison(matcher: matcher, op: comparison.op, bound: bound, scale: AnomalyScore.magnitude(bound))
        }
        self.lookback = lookback
        self.maxSeries = maxSeries
        latest = Array(repeating: [:], count: condition.comparisons.count)
        tracker = SustainTracker(duration: duration)
    }

    var metrics: Set<String> { Set(comparisons.map(\.matcher.metric)) }

    var seriesCount: Int { Set(latest.flatMap(\.keys)).count }

    mutating func update(_ sample: Sample, _ identity: SeriesIdentity) -> Update {
        var selected = false, recorded = false, dropped = false
        for index in comparisons.indices {
            let matcher = comparisons[index].matcher
            guard matcher.metric == sample.metric, matcher.matches(sample.labels) else { continue }
            selected = true
            guard sample.value.isFinite, sample.time.isFinite else { continue }
            if let previous = latest[index][identity] {
                guard sample.time > previous.time else { continue }
            } else if latest[index].count >= maxSeries {
                dropped = true
                continue
            }
            latest[index][identity] = Reading(time: sample.time, value: sample.value)
            recorded = true
        }
        guard selected else { return .unselected }
        guard recorded else { return .ignored(dropped: dropped) }
        // Series are ordered each on their own, not with each other: the condition's clock never
        // goes back, so a late sample of one series is read as of the latest time seen.
        let time = max(lastEvaluation, sample.time)
        lastEvaluation = time
        let (holds, score) = evaluate(root, at: time)
        return .evaluated(time: time, holds: holds == true, score: score)
    }

    /// Kleene's three-valued logic: nil is unknown (no current value).
    private func evaluate(_ node: TriggerCondition.Node, at time: Double) -> (Bool?, Double) {
        switch node {
        case .atom(let index): return evaluate(comparison: index, at: time)
        case .not(let inner):
            guard let holds = evaluate(inner, at: time).0 else { return (nil, 0) }
            return holds ? (false, 0) : (true, 1)
        case .all(let items):
            var unknown = false, score = 1.0
            for item in items {
                let (holds, s) = evaluate(item, at: time)
                if holds == false { return (false, 0) }
                if holds == nil { unknown = true }
                score = min(score, s)
            }
            return unknown ? (nil, 0) : (true, score)
        case .any(let items):
            var unknown = false, best: Double?
            for item in items {
                let (holds, s) = evaluate(item, at: time)
                if holds == true { best = max(best ?? 0, s) }
                if holds == nil { unknown = true }
            }
            if let best { return (true, best) }
            return unknown ? (nil, 0) : (false, 0)
        }
    }

    /// True when some current series satisfies the comparison; the score is the threshold
    /// detector's for the most anomalous of them.
    private func evaluate(comparison index: Int, at time: Double) -> (Bool?, Double) {
        let c = comparisons[index]
        var any = false, best: Double?
        for reading in latest[index].values where time - reading.time <= lookback {
            any = true
            guard c.op.holds(reading.value, c.bound) else { continue }
            let distance = abs(reading.value - c.bound)
            let score = c.op == .equal || !distance.isFinite ? 1 : AnomalyScore.beyond(distance: distance, scale: c.scale)
            best = max(best ?? 0, score)
        }
        guard any else { return (nil, 0) }
        return best.map { (true, $0) } ?? (false, 0)
    }
}

/// Prometheus `for:` over a condition that is true or false at each evaluation — the
/// `SustainedDetector` state machine for a condition that is not one series' detector. Times
/// never go back here (the caller passes the latest time seen), so equal times are accepted.
struct SustainTracker: Sendable {
    let duration: Double
    private(set) var state: SustainedDetector.State = .inactive
    private(set) var pendingSince: Double?

    init(duration: Double) {
        self.duration = duration.isNaN ? 0 : max(0, duration)
    }

    mutating func observe(time: Double, holds: Bool) {
        guard holds else {
            state = .inactive
            pendingSince = nil
            return
        }
        let since = pendingSince ?? time
        pendingSince = since
        state = time - since >= duration ? .firing : .pending
    }
}
