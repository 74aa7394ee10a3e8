import Foundation
import MedicEngine
import MedicModel

/// §5.1's severity levels in an incident's escalation (docs/escalation.md, "Severity levels"):
/// who hears of an incident of a severity as soon as it opens (the level's `notifications`), and
/// the deadlines (`response_time`, `escalation`) after which the next level of its policy is
/// brought forward.
enum SeverityNotice {
    /// The methods a notification goes by: those it writes (`on_call_engineer (email + slack)`),
    /// or, when it writes none, the channel named like its recipient (`team_slack_channel`).
    static func methods(of target: NotificationTarget) -> [String] {
        target.methods.isEmpty ? [target.recipient] : target.methods
    }

    /// Level 0 of an incident's record for `level`'s notifications: due when the incident opened,
    /// sent once by each method to the recipients that method reaches. Nil when it has none.
    /// `carried`: whether a channel carries a method (one that none carries is left out, as the
    /// configuration's warning says).
    static func level(_ level: SeverityLevelPolicy, opened: Date, carried: (String) -> Bool) -> EscalationRecord.Level? {
        var methods: [String] = []
        var recipients: [String: [String]] = [:]
        for target in level.notifications {
            for method in Self.methods(of: target) where carried(method) {
                if recipients[method] == nil { methods.append(method) }
                if recipients[method]?.contains(target.recipient) != true { recipients[method, default: []].append(target.recipient) }
            }
        }
        guard !methods.isEmpty else { return nil }
        let written = level.notifications.map { $0.methods.isEmpty ? $0.recipient : "\($0.recipient) (\($0.methods.joined(separator: " + ")))" }
        return EscalationRecord.Level(level: 0, due: JournalRecord.timestamp(opened), condition: nil, notify: written.joined(separator: ", "),
                                      methods: methods, state: .pending, recipients: recipients)
    }

    /// The §5.1 deadline of `level` that `incident` has missed at `now`, as the reason to bring
    /// the next level forward: not acknowledged within `response_time`, or not resolved within
    /// `escalation` (each when written as a duration). Nil when none is missed.
    static func missedDeadline(_ level: SeverityLevelPolicy, incident: AlertIncident, opened: Date, now: Date) -> String? {
        guard incident.status == .firing else { return nil }
        if incident.acknowledgement == nil, case .duration(let within)? = level.responseTime, now >= opened.addingTimeInterval(within.seconds) {
            return "not acknowledged within the response time of \(level.name) (\(within))"
        }
        if case .duration(let within)? = level.escalation, now >= opened.addingTimeInterval(within.seconds) {
            return "not resolved within the escalation time of \(level.name) (\(within))"
        }
        return nil
    }

    /// Whether `level` asks anything of the scheduler: notifications, or a deadline.
    static func pages(_ level: SeverityLevelPolicy) -> Bool {
        if !level.notifications.isEmpty { return true }
        if case .duration? = level.responseTime { return true }
        if case .duration? = level.escalation { return true }
        return false
    }
}
