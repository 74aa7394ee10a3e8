import MedicModel

/// A rule as the engine runs it, compiled from an anomaly rule or a playbook trigger: matchers
/// compiled, durations in seconds, and what to watch — one detector per series, or a compound
/// condition.
struct RuleDefinition: Sendable {
    enum Body: Sendable {
        /// One detector (with the rule's `for`) per series the matcher selects.
        case series(AnomalyRule, SeriesMatcher)
        /// A compound trigger condition over several series.
        case condition(TriggerCondition, [SeriesMatcher])
    }

    let name: String
    let origin: RuleOrigin
    let severity: Severity
    let playbook: String?
    let alternatives: [String]
    let fixedParameters: [(String, StepArgument.RawValue)]
    let parametersFromLabels: [(parameter: String, label: String)]
    let cooldown: Double?
    let groupBy: [String]
    let sustain: Double
    let body: Body

    init(rule: AnomalyRule, origin: RuleOrigin) throws(RuleMatchError) {
        name = rule.name
        self.origin = origin
        severity = rule.severity
        playbook = rule.playbook
        alternatives = rule.alternatives
        fixedParameters = rule.parameters.map { ($0.name, $0.value) }
        parametersFromLabels = rule.parametersFromLabels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        cooldown = rule.cooldown?.seconds
        groupBy = rule.groupBy
        sustain = rule.sustain?.seconds ?? 0
        body = .series(rule, try SeriesMatcher(rule.metric))
    }

    init(trigger: PlaybookTrigger, condition: TriggerCondition) throws(RuleMatchError) {
        name = trigger.ruleName
        origin = .trigger
        severity = trigger.severity
        playbook = trigger.playbookID
        alternatives = []
        fixedParameters = []
        parametersFromLabels = []
        cooldown = nil
        groupBy = []
        sustain = trigger.trigger.duration?.seconds ?? 0
        var matchers: [SeriesMatcher] = []
        for comparison in condition.comparisons { matchers.append(try SeriesMatcher(comparison.selector)) }
        body = .condition(condition, matchers)
    }

    /// The metric names whose samples the rule reads.
    var metrics: Set<String> {
        switch body {
        case .series(_, let matcher): [matcher.metric]
        case .condition(_, let matchers): Set(matchers.map(\.metric))
        }
    }

    /// The incident key of a series with `labels` (`seriesKey` when the rule has no `group_by`).
    func incidentKey(labels: [String: String], seriesKey: @autoclosure () -> String) -> String {
        if case .condition = body { return name }
        guard !groupBy.isEmpty else { return seriesKey() }
        return name + SeriesKey.braces(groupBy.map { ($0, labels[$0] ?? "") })
    }

    /// The playbook parameters of an incident on a series with `labels`: the fixed ones, then
    /// those taken from labels (which win over a fixed one of the same name).
    func parameters(labels: [String: String]) -> [String: StepArgument.RawValue] {
        var parameters: [String: StepArgument.RawValue] = [:]
        for (name, value) in fixedParameters where parameters[name] == nil { parameters[name] = value }
        for (parameter, label) in parametersFromLabels {
            if let value = labels[label] { parameters[parameter] = .scalar(value, quoted: false) }
        }
        return parameters
    }
}
