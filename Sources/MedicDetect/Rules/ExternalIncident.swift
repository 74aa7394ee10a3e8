import MedicModel

extension Incident {
    /// An incident raised outside the rule engine (an Alertmanager alert in `medic serve`), as
    /// the playbook selection sees one: `rule` names the trigger, `labels` are the series'
    /// labels, `playbooks` the candidates in the order written (the first is `playbook`, the
    /// others its alternatives), `parameters` taken as unquoted text so each playbook's declared
    /// type reads them, as a rule's `parameters_from_labels` are. `time`: seconds since 1970.
    public static func external(rule: String, incidentKey: String, metric: String, labels: [String: String], severity: Severity,
                                playbooks: [String], parameters: [String: String], at time: Double) -> Incident {
        var incident = Incident(
            rule: rule, incidentKey: incidentKey, seriesKey: SeriesKey.text(metric: metric, labels: labels), metric: metric, labels: labels,
            value: 1, score: 1, severity: severity, playbook: playbooks.first,
            parameters: parameters.mapValues { .scalar($0, quoted: false) }, firstSeen: time, firedAt: time, firings: 1, lastValue: 1,
            lastSeen: time, peakValue: 1, peakScore: 1)
        incident.alternatives = Array(playbooks.dropFirst())
        return incident
    }
}
