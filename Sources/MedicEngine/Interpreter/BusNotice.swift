import MedicDetect
import MedicModel

/// What Medic tells people on the bus outside any step: a run handed to them, a run waiting for
/// their approval, a run a safety gate stopped, an incident no playbook can remediate. One value
/// for all of them, so each is published the same way: a CloudEvent of the notice's topic, with
/// `data` as its data, through the bus executor, within 30 seconds.
struct BusNotice: Sendable, Equatable {
    enum Kind: String, Sendable {
        case runEscalated = "dev.medic.run.escalated"
        case approvalRequested = "dev.medic.run.approval_requested"
        case runRefused = "dev.medic.run.refused"
        case incidentEscalated = "dev.medic.incident.escalated"

        /// The event's subject (the request's step name) and the request's action.
        var subjectAndAction: (subject: String, action: String) {
            switch self {
            case .runEscalated, .incidentEscalated: ("escalation", "escalate")
            case .approvalRequested: ("approval", "alert")
            case .runRefused: ("refusal", "alert")
            }
        }
    }

    /// The seconds a notice may take to publish.
    static let timeout = 30.0

    var kind: Kind
    /// The run it is about; `incident` for an incident without a run.
    var runID: String
    var data: [String: String]

    /// The run ended `outcome` and is handed to the people its escalation names.
    static func runEscalated(_ runID: String, playbookID: String, outcome: RunOutcome, reason: String,
                             escalation: Escalation?) -> BusNotice {
        var data = [
            "run_id": runID, "playbook_id": playbookID, "outcome": outcome.rawValue, "reason": reason,
            "notify": (escalation?.notify ?? []).joined(separator: ","),
            "create_incident": (escalation?.createIncident ?? false) ? "true" : "false",
        ]
        if let policy = escalation?.policy { data["policy"] = policy }
        return BusNotice(kind: .runEscalated, runID: runID, data: data)
    }

    /// The run waits for the approvals `needs` names, until `until`.
    static func approvalRequested(_ runID: String, playbookID: String, needs: [String], until: String, reason: String) -> BusNotice {
        BusNotice(kind: .approvalRequested, runID: runID,
                  data: ["run_id": runID, "playbook_id": playbookID, "needs": needs.joined(separator: "; "), "until": until,
                         "reason": reason])
    }

    /// A gate stopped the run before its first step.
    static func runRefused(_ runID: String, playbookID: String, verdict: GateVerdict, reason: String) -> BusNotice {
        BusNotice(kind: .runRefused, runID: runID,
                  data: ["run_id": runID, "playbook_id": playbookID, "gate": verdict.gate.rawValue,
                         "decision": verdict.decision.rawValue, "reason": reason])
    }

    /// An incident no playbook can remediate, for the people its severity notifies.
    static func incidentEscalated(_ incident: Incident, reason: String, notify: [String]) -> BusNotice {
        BusNotice(kind: .incidentEscalated, runID: "incident",
                  data: ["rule": incident.rule, "incident_key": incident.incidentKey, "series": incident.seriesKey,
                         "severity": incident.severity.description, "value": String(incident.value), "reason": reason,
                         "notify": notify.joined(separator: ",")])
    }

    /// The bus executor's request that publishes it.
    var request: ExecutionRequest {
        let (subject, action) = kind.subjectAndAction
        return ExecutionRequest(runID: runID, stepNumber: 0, stepName: subject, action: action, purpose: .escalation,
                                executor: .bus, topic: kind.rawValue, parameters: data, timeout: Self.timeout)
    }
}
