import MedicModel

extension Incident {
    /// The incident `rule` would open when a series of its metric with `labels` fires with
    /// `value` at `time` (seconds since 1970): its key (with `group_by`), its playbooks and their
    /// parameters (fixed ones, then `parameters_from_labels`), exactly as the rule engine makes
    /// them. What `medic plan --incident` ranks playbooks for. Nil when the rule's metric selector
    /// cannot be compiled (the loader reports that first).
    public static func simulated(rule: AnomalyRule, labels: [String: String], value: Double, at time: Double) -> Incident? {
        guard let definition = try? RuleDefinition(rule: rule, origin: .rule) else { return nil }
        let seriesKey = SeriesKey.text(metric: rule.metric.name, labels: labels)
        var incident = Incident(
            rule: rule.name, incidentKey: definition.incidentKey(labels: labels, seriesKey: seriesKey), seriesKey: seriesKey,
            metric: rule.metric.name, labels: labels, value: value, score: 1, severity: rule.severity, playbook: rule.playbook,
            parameters: definition.parameters(labels: labels), firstSeen: time, firedAt: time, firings: 1, lastValue: value,
            lastSeen: time, peakValue: value, peakScore: 1)
        incident.alternatives = rule.alternatives
        return incident
    }
}
