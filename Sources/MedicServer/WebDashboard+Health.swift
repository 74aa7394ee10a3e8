import Foundation
import MedicEngine

extension WebDashboard {
    /// The systems' health and degradation, from what the last round of health checks saved in
    /// the state directory (docs/health.md); nothing when no check has run here.
    func health() -> String {
        guard let snapshot = HealthSnapshot.load(stateDirectory)?.degradationNow(in: stateDirectory) else { return "" }
        let components = snapshot.components.map { component in
            "<tr id=\"health-\(HTML.escape(component.component))\">" + WebPage.cell(component.component)
                + "<td class=\"health-state\">\(component.state.rawValue)</td>" + WebPage.cell(String(component.score))
                + WebPage.cell(component.failing.joined(separator: ", ")) + "</tr>"
        }
        let levels = snapshot.degradation.map { system in
            "<tr id=\"degradation-\(HTML.escape(system.system))\">" + WebPage.cell(system.system)
                + "<td class=\"degradation-level\">\(system.level.rawValue)</td>"
                + WebPage.cell(system.source + (system.by.map { " by \($0)" } ?? "") + (system.reason.map { ": \($0)" } ?? ""))
                + WebPage.cell(system.since ?? "") + "</tr>"
        }
        let off = snapshot.features.filter { !$0.on }.map(\.name)
        return WebPage.table(id: "health", title: "Health: score \(snapshot.score) (\(snapshot.trend.rawValue)) at \(snapshot.checkedAt)",
                             empty: "No component checked.", header: ["component", "state", "score", "failing"], rows: components)
            + WebPage.table(id: "degradation", title: "Degradation" + (off.isEmpty ? "" : ": off " + off.joined(separator: ", ")),
                            empty: "Every system at full.", header: ["system", "level", "set", "since"], rows: levels)
    }
}
