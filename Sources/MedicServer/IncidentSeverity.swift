import Foundation
import MedicModel

extension AlertIncident {
    /// The incident's severity (docs/escalation.md, "Choosing a policy: severity"). Its base is
    /// the anomaly rule's severity for an incident a rule raised; for an alert, its `severity`
    /// label (`SEV0` to `SEV3`, or `critical`, `high`, `medium`, `low`), else the severity of the
    /// playbook it was routed to, else SEV2. The impact the alert carries (`impact`) raises it,
    /// never lowers it. The escalation scheduler chooses the policy by it, and the run's journal
    /// records it in its detection.
    public func severity(in catalog: Catalog) -> Severity {
        let base: Severity
        if let fixed = ruleSeverity.flatMap(Severity.init(text:)) {
            base = fixed
        } else if let label = labels["severity"].flatMap(Severity.init(text:)) {
            base = label
        } else if let id = playbook, let playbook = catalog.playbook(id: id) {
            base = playbook.severity
        } else {
            base = .sev2
        }
        return max(base, impact ?? .info)
    }

    /// The severity §5.1's impact criteria give, from the alert's labels (or, for a key it has no
    /// label for, its annotations): `impact` (`outage`, `data_loss`, `data_corruption`,
    /// `security_breach`: SEV0; `major`: SEV1; `partial`: SEV2; `minor`: SEV3) and
    /// `failure_ratio` (the share of requests failing, `0.6` or `60%`: every one is a complete
    /// outage, SEV0; half or more is a major impairment, SEV1). nil when it carries neither, or
    /// only values outside these.
    public var impact: Severity? {
        func value(_ key: String) -> String? {
            (labels[key] ?? annotations[key])?.trimmingCharacters(in: .whitespaces).lowercased()
        }
        var found: [Severity] = []
        if let impact = value("impact") {
            switch impact {
            case "outage", "data_loss", "data_corruption", "security_breach": found.append(.sev0)
            case "major": found.append(.sev1)
            case "partial": found.append(.sev2)
            case "minor": found.append(.sev3)
            default: break
            }
        }
        if let text = value("failure_ratio"), let ratio = Self.ratio(text) {
            if ratio >= 1 { found.append(.sev0) } else if ratio >= 0.5 { found.append(.sev1) }
        }
        return found.max()
    }

    /// `0.6` or `60%` as 0.6; nil for anything else (negative, above 1, not a number).
    static func ratio(_ text: String) -> Double? {
        let percent = text.hasSuffix("%")
        guard let number = Double(percent ? String(text.dropLast()) : text), number.isFinite else { return nil }
        let ratio = percent ? number / 100 : number
        return (0...1).contains(ratio) ? ratio : nil
    }
}
