import Foundation
import MedicEngine

/// What the page at `/` shows, read from the same stores the API reads: the switches, the runs
/// waiting for approval, the open incidents, the breakers and the latest runs.
struct WebDashboard {
    let stores: StateStores
    let incidents: any IncidentStoring
    let stateDirectory: String
    let clock: any EngineClock

    /// The latest runs shown, newest first.
    static let recentRuns = 50

    func render(_ viewer: WebViewer) async -> String {
        let runs = Array(await stores.runs.list(reconcilingIncidents: false).runs.reversed())
        return await switches(viewer) + health() + approvals(runs.filter { $0.status == .pendingApproval }, viewer) + openIncidents(viewer)
            + breakers(viewer) + recent(Array(runs.prefix(Self.recentRuns)))
    }

    func switches(_ viewer: WebViewer) async -> String {
        var settings: [OperatorFlag: OperatorSwitch.Setting] = [:]
        for flag in OperatorFlag.allCases { settings[flag] = await stores.flags.setting(flag) }
        let rows = OperatorFlag.allCases.map { flag -> String in
            let title = flag == .killSwitch ? "Kill switch" : "Safe mode"
            let path = "/actions/switches/\(flag.rawValue)"
            guard let setting = settings[flag] else {
                return "<tr id=\"switch-\(flag.rawValue)\"><td>\(title)</td><td>off</td><td></td><td>"
                    + WebPage.form(viewer, .operator, action: path + "/on", className: "turn-on", back: "/",
                                   fields: WebPage.input("reason", placeholder: "reason"), button: "Turn on")
                    + "</td></tr>"
            }
            return "<tr id=\"switch-\(flag.rawValue)\"><td>\(title)</td><td class=\"on\">ON</td>"
                + WebPage.cell("by \(setting.by) at \(setting.at)" + (setting.reason.map { ": \($0)" } ?? "")) + "<td>"
                + WebPage.form(viewer, .operator, action: path + "/off", className: "turn-off", back: "/",
                               fields: WebPage.input("reason", placeholder: "reason"), button: "Turn off")
                + "</td></tr>"
        }
        return WebPage.table(id: "switches", title: "Switches", empty: "", header: ["switch", "state", "set", ""], rows: rows)
    }

    func approvals(_ pending: [RunSummary], _ viewer: WebViewer) async -> String {
        var journals: [String: [JournalRecord]] = [:]
        for run in pending { journals[run.id] = (try? await stores.runs.inspect(run.id))?.contents.records ?? [] }
        let rows = pending.map { run -> String in
            let records = journals[run.id] ?? []
            let since = records.lastIndex { $0.event == .approvalRequested } ?? records.startIndex
            let asked = records.indices.contains(since) ? records[since] : nil
            var waits = asked?.message ?? "approval"
            if let needs = asked?.needs, !needs.isEmpty { waits += " (needs: \(needs.joined(separator: ", ")))" }
            let given = records[since...].filter { $0.event == .approvalGiven }
                .map { "\($0.by ?? "?")" + ($0.role.map { " as \($0)" } ?? "") }
            return "<tr id=\"approval-\(HTML.escape(run.id))\"><td>\(WebPage.runLink(run.id))</td>"
                + WebPage.cell(run.playbookID) + WebPage.cell(run.startedAt) + WebPage.cell(waits)
                + WebPage.cell(given.isEmpty ? "none yet" : given.joined(separator: ", "))
                + "<td>\(WebPage.decisionForms(run.id, viewer: viewer, back: "/"))</td></tr>"
        }
        return WebPage.table(id: "approvals", title: "Waiting for approval", empty: "No run waits for approval.",
                             header: ["run", "playbook", "started", "waits for", "approved by", ""], rows: rows)
    }

    func openIncidents(_ viewer: WebViewer) async -> String {
        let open = await incidents.all().incidents.filter { $0.status == .firing }.sorted { $0.openedAt > $1.openedAt }
        let rows = open.map { incident -> String in
            let labels = incident.labels.sorted { $0.key < $1.key }
                .map { "<span>\(HTML.escape($0.key))=\(HTML.escape($0.value))</span>" }.joined()
            var handling = incident.playbook.map { "playbook \($0)" } ?? incident.handling.rawValue
            if let target = incident.target { handling += " on \(target)" }
            if let reason = incident.reason { handling += ": \(reason)" }
            let acknowledged = incident.acknowledgement.map { "by \($0.by) at \($0.at)" + ($0.note.map { ": \($0)" } ?? "") }
            let path = "/actions/incidents/\(HTML.segment(incident.key))"
            var forms = ""
            if incident.acknowledgement == nil {
                forms += WebPage.form(viewer, .operator, action: path + "/ack", className: "ack", back: "/",
                                      fields: WebPage.input("note", placeholder: "note"), button: "Acknowledge")
            }
            forms += WebPage.form(viewer, .operator, action: path + "/resolve", className: "resolve", back: "/",
                                  fields: WebPage.input("note", placeholder: "note"), button: "Resolve")
            return "<tr id=\"incident-\(HTML.escape(incident.key))\">" + WebPage.cell(incident.key)
                + "<td class=\"labels\">\(labels)</td>" + WebPage.cell(incident.openedAt) + WebPage.cell(handling)
                + "<td>\(incident.runID.map(WebPage.runLink) ?? "")</td>" + WebPage.cell(acknowledged ?? "not yet")
                + "<td>\(forms)</td></tr>"
        }
        return WebPage.table(id: "incidents", title: "Open incidents", empty: "No incident is open.",
                             header: ["incident", "labels", "opened", "handling", "run", "acknowledged", ""], rows: rows)
    }

    func breakers(_ viewer: WebViewer) async -> String {
        let breaker = RemediationBreaker(stateDirectory: stateDirectory, history: stores.runs)
        let rows = await breaker.statuses(now: clock.now).map { status -> String in
            var state = status.state.name
            switch status.state {
            case .closed: break
            case .open(let until, let reason): state += " until \(until.formatted(Date.ISO8601FormatStyle())): \(reason)"
            case .halfOpen(let reason): state += ": \(reason)"
            }
            let reset = status.lastReset.map { "by \($0.by) at \($0.at)" + ($0.reason.map { ": \($0)" } ?? "") } ?? ""
            let form = status.state == .closed ? "" : WebPage.form(viewer, .operator, action: "/actions/breakers/\(HTML.segment(status.playbookID))/reset",
                                                                   className: "reset", back: "/",
                                                                   fields: WebPage.input("reason", placeholder: "reason"), button: "Reset")
            return "<tr id=\"breaker-\(HTML.escape(status.playbookID))\">" + WebPage.cell(status.playbookID) + WebPage.cell(state)
                + WebPage.cell("\(status.windowFailures) of \(status.windowRuns), \(status.consecutiveFailures) in a row")
                + WebPage.cell(reset) + "<td>\(form)</td></tr>"
        }
        return WebPage.table(id: "breakers", title: "Breakers", empty: "No playbook has run yet, so no breaker has a state.",
                             header: ["playbook", "state", "failures", "last reset", ""], rows: rows)
    }

    func recent(_ runs: [RunSummary]) -> String {
        let rows = runs.map { run in
            "<tr id=\"run-\(HTML.escape(run.id))\"><td>\(WebPage.runLink(run.id))</td>" + WebPage.cell(run.playbookID)
                + WebPage.cell(Self.state(run.status, run.outcome)) + WebPage.cell(run.startedAt) + "</tr>"
        }
        return WebPage.table(id: "runs", title: "Latest runs", empty: "No runs yet.", header: ["run", "playbook", "status", "started"], rows: rows)
    }

    /// One run: its state, the approval forms while it waits, and its journal as `medic show` prints it.
    func run(_ id: String, _ viewer: WebViewer) async -> String? {
        guard let (summary, contents, status) = try? await stores.runs.inspect(id) else { return nil }
        let report = RunReport(records: contents.records, journal: summary?.journal ?? id, status: status)
        var out = "<section id=\"run\"><h2>Run \(HTML.escape(id))</h2><p>Playbook <strong>\(HTML.escape(report.playbookID))</strong>, "
            + "status <strong id=\"run-status\">\(Self.state(status, report.outcome))</strong></p>"
        if status == .pendingApproval { out += "<div id=\"decision\">\(WebPage.decisionForms(id, viewer: viewer, back: "/runs/\(id)"))</div>" }
        out += "<pre id=\"timeline\">\(HTML.escape(RunRenderer.timeline(report, records: contents.records)))</pre>"
        if !contents.problems.isEmpty { out += "<pre id=\"damage\">\(HTML.escape(contents.problems.joined(separator: "\n")))</pre>" }
        return out + "</section>"
    }

    /// A finished run's outcome, else its status (a run waiting for approval may have journaled `refused`).
    static func state(_ status: RunStatus, _ outcome: RunOutcome?) -> String {
        status == .finished ? outcome?.rawValue ?? status.rawValue : status.rawValue
    }
}
