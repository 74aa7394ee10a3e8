import Foundation
import MedicEngine
import MedicModel
import MedicText

/// What the library's §5.4 `auto_escalation_triggers` conditions read about an incident
/// (docs/escalation.md, "The library's triggers"): a bare name in a condition takes its value
/// from here before any metric source is asked.
enum IncidentFacts {
    /// The incident's alert labels, then the annotations for names no label has, then Medic's own
    /// facts, which win: `severity` (the escalation's, raised or not), `time_since_detection`
    /// (seconds since the incident opened), `acknowledged` (`true`/`false`),
    /// `remediation_attempts` (attempts of its run's remediation steps that failed), and `state`
    /// (`firing`, unless a label or annotation gives one, as `state: degraded`).
    static func parameters(_ incident: AlertIncident, severity: String, now: Date, runRecords: [JournalRecord]?) -> [String: String] {
        var facts = incident.labels
        for (key, value) in incident.annotations where facts[key] == nil { facts[key] = value }
        if facts["state"] == nil { facts["state"] = "firing" }
        facts["severity"] = severity
        let opened = Timestamp(rfc3339: incident.openedAt)?.date ?? now
        facts["time_since_detection"] = String(max(0, now.timeIntervalSince(opened)))
        facts["acknowledged"] = incident.acknowledgement == nil ? "false" : "true"
        facts["remediation_attempts"] = String(failedAttempts(runRecords ?? []))
        return facts
    }

    /// Attempts of remediation steps (not verification, rollback or escalation) that failed.
    static func failedAttempts(_ records: [JournalRecord]) -> Int {
        records.filter { $0.event == .stepFinished && ($0.phase ?? .step) == .step && $0.result?.succeeded == false }.count
    }
}
