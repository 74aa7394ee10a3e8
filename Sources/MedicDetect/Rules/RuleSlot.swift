import MedicModel

/// One rule's state in the engine: its series (each with its detector and `for`), or its
/// compound condition; its incidents; its counters.
struct RuleSlot: Sendable {
    struct SeriesState: Sendable {
        var detector: SustainedDetector
        /// The detectors' own hostile-input rules, applied here first so that the slot knows a
        /// sample was ignored (a detector answers an ignored sample with "normal" and no change).
        var admission = SampleAdmission()
        /// Computed on the series' first firing and kept.
        var incidentKey: String?
    }

    let definition: RuleDefinition
    let maxSeries: Int
    let idleSeriesAfter: Double
    private var series: [SeriesIdentity: SeriesState] = [:]
    /// Series of the rule's metric that its matchers refuse, remembered (up to `maxSeries`) so
    /// that regular expressions run once per series, not once per sample.
    private var unselected: Set<SeriesIdentity> = []
    private var condition: ConditionState?
    private(set) var incidents = IncidentBook()
    private(set) var statistics: RuleStatistics

    /// A pseudo-series standing for a compound condition in its incident's set of firing series.
    private var conditionMember: SeriesIdentity { SeriesIdentity(metric: definition.name, labels: [:]) }

    init(_ definition: RuleDefinition, configuration: RuleEngine.Configuration) {
        self.definition = definition
        maxSeries = max(1, configuration.maxSeriesPerRule)
        idleSeriesAfter = configuration.idleSeriesAfter
        statistics = RuleStatistics(rule: definition.name, origin: definition.origin, severity: definition.severity,
                                    playbook: definition.playbook)
        if case .condition(let compiled, let matchers) = definition.body {
            condition = ConditionState(compiled, matchers: matchers, duration: definition.sustain,
                                       lookback: configuration.lookback, maxSeries: maxSeries)
        }
    }

    /// Feeds a sample of one of the rule's metrics. Returns the generation of an incident that
    /// became quiet (its key's last firing series recovered), for the engine to schedule.
    mutating func ingest(_ sample: Sample, _ identity: SeriesIdentity, events: inout [RuleEvent]) -> (key: String, generation: Int)? {
        switch definition.body {
        case .series(let rule, let matcher):
            return ingestSeries(sample, identity, rule: rule, matcher: matcher, events: &events)
        case .condition:
            return ingestCondition(sample, identity, events: &events)
        }
    }

    private mutating func ingestSeries(_ sample: Sample, _ identity: SeriesIdentity, rule: AnomalyRule, matcher: SeriesMatcher,
                                       events: inout [RuleEvent]) -> (key: String, generation: Int)? {
        let index: Dictionary<SeriesIdentity, SeriesState>.Index
        if let existing = series.index(forKey: identity) {
            index = existing
        } else {
            guard !unselected.contains(identity) else { return nil }
            guard matcher.matches(sample.labels) else {
                if unselected.count < maxSeries { unselected.insert(identity) }
                return nil
            }
            statistics.samples += 1
            guard series.count < maxSeries || forgetIdleSeries(now: sample.time) else {
                statistics.droppedSamples += 1
                return nil
            }
            series[identity] = SeriesState(detector: Detectors.make(rule))
            statistics.series = series.count
            index = series.index(forKey: identity)!
            return observe(sample, identity, at: index, events: &events)
        }
        statistics.samples += 1
        return observe(sample, identity, at: index, events: &events)
    }

    /// The rule is full: forgets every series quiet for `idleSeriesAfter` that is neither pending
    /// nor firing (one pass frees them all, so a full rule is not scanned at every sample).
    /// Whether there is room now.
    private mutating func forgetIdleSeries(now: Double) -> Bool {
        let cutoff = now - idleSeriesAfter
        let before = series.count
        series = series.filter { $0.value.detector.state != .inactive || !($0.value.admission.lastTime < cutoff) }
        statistics.forgottenSeries += before - series.count
        statistics.series = series.count
        return series.count < maxSeries
    }

    private mutating func observe(_ sample: Sample, _ identity: SeriesIdentity, at index: Dictionary<SeriesIdentity, SeriesState>.Index,
                                  events: inout [RuleEvent]) -> (key: String, generation: Int)? {
        guard series.values[index].admission.admit(time: sample.time, value: sample.value) else {
            statistics.ignoredSamples += 1
            return nil
        }
        let before = series.values[index].detector.state
        let output = series.values[index].detector.observe(time: sample.time, value: sample.value)
        let after = series.values[index].detector.state
        guard before != .inactive || after != .inactive else { return nil }
        let key: String
        if let cached = series.values[index].incidentKey {
            key = cached
        } else {
            key = definition.incidentKey(labels: sample.labels, seriesKey: identity.key)
            series.values[index].incidentKey = key
        }
        return transition(from: before, to: after, member: identity, incidentKey: key, sample: sample, score: output.score,
                          pendingSince: series.values[index].detector.pendingSince, events: &events)
    }

    private mutating func ingestCondition(_ sample: Sample, _ identity: SeriesIdentity, events: inout [RuleEvent]) -> (key: String, generation: Int)? {
        switch condition!.update(sample, identity) {
        case .unselected:
            return nil
        case .ignored(let dropped):
            statistics.samples += 1
            if dropped { statistics.droppedSamples += 1 } else { statistics.ignoredSamples += 1 }
            return nil
        case .evaluated(let time, let holds, let score):
            statistics.samples += 1
            statistics.series = condition!.seriesCount
            let before = condition!.tracker.state
            condition!.tracker.observe(time: time, holds: holds)
            let after = condition!.tracker.state
            guard before != .inactive || after != .inactive else { return nil }
            var at = sample
            at.time = time
            return transition(from: before, to: after, member: conditionMember, incidentKey: definition.name, sample: at,
                              score: score, pendingSince: condition!.tracker.pendingSince, events: &events)
        }
    }

    /// The events of one series' (or the condition's) change of `for` state.
    private mutating func transition(from before: SustainedDetector.State, to after: SustainedDetector.State, member: SeriesIdentity,
                                     incidentKey: String, sample: Sample, score: Double, pendingSince: Double?,
                                     events: inout [RuleEvent]) -> (key: String, generation: Int)? {
        switch after {
        case .pending:
            if before == .inactive {
                statistics.pending += 1
                events.append(.pending(PendingAnomaly(rule: definition.name, incidentKey: incidentKey, seriesKey: sample.seriesKey,
                                                      metric: sample.metric, labels: sample.labels, since: pendingSince ?? sample.time,
                                                      value: sample.value, score: score)))
            }
            return nil
        case .firing:
            let firing = IncidentBook.Firing(member: member, started: before != .firing, incidentKey: incidentKey, sample: sample,
                                             score: score, firstSeen: pendingSince ?? sample.time)
            incidents.fire(firing, rule: definition, statistics: &statistics, events: &events)
            return nil
        case .inactive:
            guard before == .firing, let generation = incidents.recover(member, incidentKey: incidentKey, time: sample.time) else { return nil }
            return (incidentKey, generation)
        }
    }

    /// Resolves a quiet incident whose deadline has come.
    mutating func resolve(incidentKey: String, generation: Int, events: inout [RuleEvent]) {
        guard let incident = incidents.resolve(incidentKey: incidentKey, generation: generation, cooldown: definition.cooldown) else { return }
        statistics.resolved += 1
        events.append(.resolved(incident))
    }
}
