import Foundation
import MedicModel

extension MaintenanceWindow {
    /// The occurrence of this window that contains `date`, else the next one to open after it.
    public func occurrence(around date: Date) -> (start: Date, end: Date)? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: date)
        // From a week back (a long window opened then may still be open) to a week ahead, earliest first.
        for offset in -7...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: today) else { continue }
            let weekday = calendar.component(.weekday, from: day)  // 1 = Sunday
            let iso = weekday == 1 ? 7 : weekday - 1
            guard days.isEmpty || days.contains(iso), let start = calendar.date(byAdding: .minute, value: self.start, to: day) else { continue }
            let end = start.addingTimeInterval(duration.seconds)
            if end > date { return (start, end) }
        }
        return nil
    }
}

/// Gate (§7.3, maintenance windows): steps whose action is `maintenance_only` run only inside a
/// maintenance window of the policies (`maintenance_windows`). Outside one the run is deferred
/// until the next window opens, and the plan says when; with no window defined it is refused.
public struct MaintenanceWindowGate: Gate {
    public let name = GateID.maintenanceWindow
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let steps = context.plan.steps.filter(\.maintenanceOnly)
        guard !steps.isEmpty else { return .pass(name, "no maintenance-only step") }
        let which = "step(s) " + steps.map { "\($0.number) (\($0.action))" }.joined(separator: ", ") + " are maintenance_only"
        let windows = context.catalog.policies.maintenanceWindows
        guard !windows.isEmpty else {
            return .refuse(name, "\(which) and no maintenance window is defined (policies: maintenance_windows)")
        }
        let occurrences = windows.compactMap { window in window.occurrence(around: context.now).map { (window, $0.start, $0.end) } }
        if let (window, _, end) = occurrences.first(where: { $0.1 <= context.now }) {
            return .pass(name, "\(which); inside maintenance window '\(window.name)' until \(JournalRecord.timestamp(end))")
        }
        guard let (window, start, _) = occurrences.min(by: { $0.1 < $1.1 }) else {
            return .refuse(name, "\(which) and no maintenance window ever opens")
        }
        return GateVerdict(gate: name, decision: .deferred,
                           reason: "\(which); the next maintenance window '\(window.name)' opens at \(JournalRecord.timestamp(start))",
                           until: JournalRecord.timestamp(start))
    }
}
