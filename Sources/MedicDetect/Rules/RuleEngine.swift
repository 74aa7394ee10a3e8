import MedicModel

/// Evaluates anomaly rules and playbook triggers over metric samples, one sample at a time, and
/// says when an incident starts and ends. A pure value: no clock, no I/O, no threads. Time is
/// the samples' timestamps, so a replayed file (`medic backtest`) behaves as the live feed
/// (`medic watch`) did.
///
/// ```swift
/// var engine = RuleEngine(rules: catalog.rules, triggers: PlaybookTrigger.all(in: catalog.playbooks))
/// for sample in samples {
///     for case .firing(let incident) in engine.ingest(sample) { start(incident.playbook, incident.parameters) }
/// }
/// ```
///
/// **Matching.** A sample belongs to a rule when its metric is the rule's and the rule's label
/// matchers hold (`=`, `!=`, `=~`, `!~`; a missing label is the empty string; regular
/// expressions match the whole value). Each distinct label set is a series; each (rule, series)
/// gets its own detector, wrapped in the rule's `for` (`Detectors.make(rule)`).
///
/// **`for`.** Prometheus's semantics on sample timestamps (`SustainedDetector`): a series is
/// pending from its first anomalous sample and fires on an anomalous sample at least `for`
/// later; a normal sample resets it. NaN or infinite values or times, samples older than the
/// series' last and duplicates of its last timestamp are ignored (counted in
/// `RuleStatistics.ignoredSamples`), never fatal.
///
/// **Incidents.** A firing series opens an incident unless one of its key is active. The key is
/// the rule name and the values of its `group_by` labels, or the series key when it has none.
/// While an incident is active, other series of its key that fire, and the same series firing
/// again after a recovery, are folded into it (`firings`, `lastValue`, `peakValue`; a
/// `.suppressed(.alreadyFiring)` event) — a flapping series makes one incident, not fifty. The
/// incident resolves once every series of its key has been back to normal for
/// `Configuration.resolveAfter` (its `resolvedAt` is when the last one recovered). After that,
/// a firing of the key is suppressed (`.suppressed(.cooldown)`) until the rule's `cooldown` has
/// passed since `resolvedAt`; a series still firing then opens the next incident.
///
/// **Bounds.** Each rule keeps at most `Configuration.maxSeriesPerRule` series. When a rule is
/// full and a new series arrives, the series quiet for `idleSeriesAfter` that are neither pending
/// nor firing are forgotten (`RuleStatistics.forgottenSeries`); if none is, the new series'
/// samples are dropped and counted (`RuleStatistics.droppedSamples`). The cap bounds a long run's
/// memory. Work per sample: a dictionary lookup
/// per rule of its metric, that rule's detector, and O(log n) per incident that becomes quiet.
public struct RuleEngine: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Series a rule keeps state for; samples of further new series are dropped and counted.
        public var maxSeriesPerRule: Int
        /// How long, in seconds of sample time, every series of an incident's key must stay
        /// normal before the incident resolves. 0 resolves on the first normal sample
        /// (Prometheus's alerts); the default, 5 minutes (Alertmanager's `resolve_timeout`),
        /// folds a flapping series into one incident.
        public var resolveAfter: Double
        /// How old a series' latest value may be, in seconds, and still count in a compound
        /// trigger condition (Prometheus's lookback delta, 5 minutes).
        public var lookback: Double

        /// A series that has sent no sample for this long (seconds of sample time) and is neither
        /// pending nor firing is forgotten when its rule is full and a new series arrives, so a
        /// long watch over series that come and go (pods) keeps taking new ones.
        public var idleSeriesAfter: Double

        public init(maxSeriesPerRule: Int = 10_000, resolveAfter: Double = 300, lookback: Double = 300, idleSeriesAfter: Double = 3600) {
            self.maxSeriesPerRule = maxSeriesPerRule
            self.resolveAfter = resolveAfter.isNaN ? 0 : max(0, resolveAfter)
            self.lookback = lookback.isNaN ? 0 : max(0, lookback)
            self.idleSeriesAfter = idleSeriesAfter.isNaN ? 3600 : max(0, idleSeriesAfter)
        }
    }

    public let configuration: Configuration
    /// Rules and triggers the engine could not take, with the reason; it runs without them.
    public let rejected: [RuleRejection]
    /// Playbook triggers left out because a rule names their playbook (see `init`), each with
    /// the rule that replaces it.
    public let replacedTriggers: [RuleRejection]
    private var slots: [RuleSlot]
    /// Metric name → the slots that read it.
    private let slotsByMetric: [String: [Int]]
    private var resolutions = ResolutionQueue()
    /// The latest sample time seen (finite values only); resolutions fall due against it.
    public private(set) var watermark = -Double.infinity

    /// `rules` from a rules file, `triggers` from playbooks. A rule whose regular expression does
    /// not compile, a trigger condition the engine cannot evaluate, and a second rule of one
    /// name are left out and listed in `rejected`.
    ///
    /// **A rule replaces its playbook's trigger.** When an accepted rule names a playbook (as its
    /// `playbook`, or among the playbooks it lists), that playbook's own trigger is not evaluated:
    /// the rule says which series, severity, parameters and cooldown the playbook is started
    /// with, and evaluating both would open two incidents (and start two runs) for one fault.
    /// Such triggers are listed in `replacedTriggers`. A playbook no rule names keeps its trigger.
    public init(rules: [AnomalyRule], triggers: [PlaybookTrigger] = [], configuration: Configuration = Configuration()) {
        self.configuration = configuration
        var definitions: [RuleDefinition] = []
        var rejected: [RuleRejection] = []
        var names: Set<String> = []
        for rule in rules {
            guard names.insert(rule.name).inserted else {
                rejected.append(RuleRejection(rule: rule.name, reason: "a rule of this name is already loaded", location: rule.location))
                continue
            }
            do throws(RuleMatchError) {
                definitions.append(try RuleDefinition(rule: rule, origin: .rule))
            } catch {
                rejected.append(RuleRejection(rule: rule.name, reason: error.reason, location: rule.location))
            }
        }
        var replacing: [String: String] = [:]
        for definition in definitions {
            for playbook in [definition.playbook].compactMap({ $0 }) + definition.alternatives where replacing[playbook] == nil {
                replacing[playbook] = definition.name
            }
        }
        var replaced: [RuleRejection] = []
        for trigger in triggers {
            if let rule = replacing[trigger.playbookID] {
                replaced.append(RuleRejection(
                    rule: trigger.ruleName, reason: "not evaluated: rule \(rule) names playbook \(trigger.playbookID) and replaces its trigger",
                    location: trigger.location))
                continue
            }
            guard names.insert(trigger.ruleName).inserted else {
                rejected.append(RuleRejection(rule: trigger.ruleName, reason: "a rule of this name is already loaded", location: trigger.location))
                continue
            }
            do throws(RuleMatchError) {
                switch trigger.thresholdRule() {
                case .success(let rule?):
                    definitions.append(try RuleDefinition(rule: rule, origin: .trigger))
                case .success(nil):
                    guard case .success(let condition) = TriggerCondition.compile(trigger.trigger.condition.expression) else { continue }
                    definitions.append(try RuleDefinition(trigger: trigger, condition: condition))
                case .failure(let rejection):
                    rejected.append(rejection)
                }
            } catch {
                rejected.append(RuleRejection(rule: trigger.ruleName, reason: error.reason, location: trigger.location))
            }
        }
        self.rejected = rejected
        replacedTriggers = replaced
        slots = definitions.map { RuleSlot($0, configuration: configuration) }
        var byMetric: [String: [Int]] = [:]
        for (index, definition) in definitions.enumerated() {
            for metric in definition.metrics { byMetric[metric, default: []].append(index) }
        }
        slotsByMetric = byMetric
    }

    /// The catalog's rules and the triggers of its playbooks.
    public init(catalog: Catalog, configuration: Configuration = Configuration()) {
        self.init(rules: catalog.rules, triggers: PlaybookTrigger.all(in: catalog.playbooks), configuration: configuration)
    }

    /// Feeds one sample to every rule of its metric. Returns what changed, in order: per rule (in
    /// the order given), its pending, firing or suppressed event; then incidents whose
    /// resolution fell due now that time has reached the sample's.
    public mutating func ingest(_ sample: Sample) -> [RuleEvent] {
        var events: [RuleEvent] = []
        if let indices = slotsByMetric[sample.metric] {
            let identity = SeriesIdentity(sample)
            for index in indices {
                if let quiet = slots[index].ingest(sample, identity, events: &events) {
                    let deadline = (slots[index].incidents.active[quiet.key]?.quietSince ?? sample.time) + configuration.resolveAfter
                    resolutions.push(.init(deadline: deadline, slot: index, key: quiet.key, generation: quiet.generation))
                }
            }
        }
        if sample.time.isFinite, sample.time > watermark { watermark = sample.time }
        resolveDue(into: &events)
        return events
    }

    /// Moves time forward without a sample (a live feed's clock, or the end of a replay) and
    /// returns the incidents that resolve by then. `advance(to: .infinity)` at the end of a
    /// backtest resolves every incident whose series had all recovered. Time never goes back.
    public mutating func advance(to time: Double) -> [RuleEvent] {
        guard !time.isNaN else { return [] }
        if time > watermark { watermark = time }
        var events: [RuleEvent] = []
        resolveDue(into: &events)
        return events
    }

    private mutating func resolveDue(into events: inout [RuleEvent]) {
        while let due = resolutions.popDue(at: watermark) {
            slots[due.slot].resolve(incidentKey: due.key, generation: due.generation, events: &events)
        }
    }

    /// The incidents open now, with their tallies so far, by rule and then by key.
    public var activeIncidents: [Incident] {
        slots.flatMap { $0.incidents.active.values.map(\.incident).sorted { $0.incidentKey < $1.incidentKey } }
    }

    /// Each rule's counters, in the order rules and then triggers were given.
    public var statistics: [RuleStatistics] { slots.map(\.statistics) }

    /// The rules and triggers that read a series of `metric` with `labels`, by name, in the
    /// order of `statistics`: those a labelled series is scored against (`LabelledScoring`).
    public func rules(selecting metric: String, labels: [String: String]) -> [String] {
        (slotsByMetric[metric] ?? []).compactMap { slots[$0].definition.selects(metric: metric, labels: labels) ? slots[$0].definition.name : nil }
    }
}
