import Foundation
import MedicEngine
import MedicModel

/// The runs going in this server by what they remediate: a playbook on its targets. It is how
/// one fault seen by an anomaly rule and by an alert makes one incident with one run: a
/// trigger (a rule's firing or a firing alert) that would start a playbook on targets that a run
/// going already remediates with that playbook does not start a second run, it folds into the
/// one going (docs/serving.md, "One fault, one run"). The claim lasts until the run ends (for
/// a rule's run that waits for approval: until it is decided).
public final class RemediationsGoing: @unchecked Sendable {
    /// Who holds a remedy: the alert incident key the claim is for (none for a rule's run), and
    /// its runs, first claimed first. Concurrent posts of one alert each claim a run id; the
    /// incident store lets one of them open the incident and the others release theirs.
    private struct Holder {
        var owner: String?
        var runs: [String]
    }

    // The two maps are only touched under `lock`: this is what makes the class Sendable.
    private let lock = NSLock()
    private var holders: [String: Holder] = [:]
    private var remedyByRun: [String: String] = [:]
    /// Runs going on other servers sharing the database, by remedy, as last listed
    /// (`replaceElsewhere`): an alert for one of them folds into it too, once confirmed.
    private var elsewhere: [String: String] = [:]

    public init() {}

    /// What a plan remediates: its playbook and the names of its targets (the local host when
    /// it names none), as the target locks name them.
    public static func remedy(of plan: Plan) -> String {
        remedy(playbook: plan.playbookID, targets: TargetLocks.names(for: plan))
    }

    /// A playbook on target lock names (a run's summary keeps its targets so).
    static func remedy(playbook: String, targets: [String]) -> String { playbook + " on " + targets.joined(separator: ", ") }

    /// The run going for `plan`'s playbook on its targets, if another trigger holds them;
    /// otherwise claims them for `runID` and returns nil (the caller starts `runID`). `owner`:
    /// the alert incident key the run is for; a claim of the same owner (a repeat or a retry of
    /// the alert, perhaps concurrent) is shared rather than folded into.
    /// `elsewhereToo`: a run going on another server sharing the database (`replaceElsewhere`)
    /// counts too; the caller confirms it is still going (`isElsewhere`) before folding into it.
    public func claim(_ plan: Plan, runID: String, owner: String? = nil, elsewhereToo: Bool = false) -> String? {
        let remedy = Self.remedy(of: plan)
        lock.lock()
        defer { lock.unlock() }
        if var holder = holders[remedy] {
            if holder.runs.contains(runID) { return nil }
            guard let owner, holder.owner == owner else { return holder.runs.first }
            holder.runs.append(runID)
            holders[remedy] = holder
        } else {
            if elsewhereToo, let other = elsewhere[remedy], other != runID { return other }
            holders[remedy] = Holder(owner: owner, runs: [runID])
        }
        remedyByRun[runID] = remedy
        return nil
    }

    /// The runs going now on the other servers sharing the database (`runs`: the run store's
    /// listing; `isHere`: whether a run is this server's): each one's remedy is taken as going
    /// by an alert's claim (`elsewhereToo`), until the next listing no longer shows it going.
    /// Between a run's start on another server and this server's next listing (a third of the
    /// lease), an alert for the same remedy is not folded: it gets a run of its own, which the
    /// target's lease holds until the first ends.
    public func replaceElsewhere(_ runs: [RunSummary], isHere: (String) -> Bool) {
        var going: [String: String] = [:]
        for run in runs where (run.status == .running || run.status == .pendingApproval) && !isHere(run.id) {
            let remedy = Self.remedy(playbook: run.playbookID, targets: run.targets)
            if going[remedy] == nil { going[remedy] = run.id }
        }
        lock.withLock { elsewhere = going }
    }

    /// Whether `runID` is a run seen going on another server (not one of this server's).
    public func isElsewhere(_ runID: String) -> Bool { lock.withLock { elsewhere.values.contains(runID) && remedyByRun[runID] == nil } }

    /// Forgets a run seen going on another server (it has ended).
    public func forgetElsewhere(_ runID: String) { lock.withLock { elsewhere = elsewhere.filter { $0.value != runID } } }

    /// Ends `runID`'s claim (the run ended, or will not start). A run that claimed nothing: no-op.
    public func release(runID: String) {
        lock.lock()
        defer { lock.unlock() }
        guard let remedy = remedyByRun.removeValue(forKey: runID), var holder = holders[remedy] else { return }
        holder.runs.removeAll { $0 == runID }
        holders[remedy] = holder.runs.isEmpty ? nil : holder
    }
}
