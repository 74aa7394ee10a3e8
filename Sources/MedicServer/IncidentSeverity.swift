import MedicModel

extension AlertIncident {
    /// The incident's severity (docs/escalation.md, "Choosing a policy: severity"): its alert's
    /// `severity` label (`SEV0` to `SEV3`, or `critical`, `high`, `medium`, `low`), else the
    /// severity of the playbook it was routed to, else SEV2. The escalation scheduler chooses the
    /// policy by it, and the run's journal records it in its detection.
    public func severity(in catalog: Catalog) -> Severity {
        if let label = labels["severity"].flatMap(Severity.init(text:)) { return label }
        if let id = playbook, let playbook = catalog.playbook(id: id) { return playbook.severity }
        return .sev2
    }
}
