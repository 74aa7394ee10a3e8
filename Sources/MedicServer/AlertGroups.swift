import Foundation

/// Alertmanager's groups as Medic runs them: the firing alerts of one group (one `groupKey`)
/// that a route sends to the same playbook on the same target are one fault, carried out by one
/// run. The first such alert's incident **leads** the group: it has the run. Every later alert
/// of the group with that playbook and target opens its own incident, folded into the lead's
/// run, for as long as the lead is firing (not resolved, by its alert or by a person). Once it
/// is resolved, the next alert of the group leads it afresh, with a run of its own
/// (docs/serving.md, "Groups").
///
/// The leads are kept in memory, read from the incident store the first time they are needed
/// (so a restart keeps each group's lead), and claimed under a lock, so concurrent posts of one
/// group agree on one lead.
public final class AlertGroups: AlertGroupLeads, @unchecked Sendable {
    public typealias Lead = AlertGroupLead

    // `leads` and `loaded` are only touched under `lock`: this is what makes the class Sendable.
    private let lock = NSLock()
    private var leads: [String: Lead] = [:]
    private var loaded = false

    public init() {}

    /// The group an incident belongs to for its run: its `groupKey`, playbook and target; nil
    /// for an incident without a playbook.
    public static func group(groupKey: String, playbook: String?, target: String?) -> String? {
        guard let playbook else { return nil }
        return [groupKey, playbook, target ?? ""].joined(separator: "\u{1F}")
    }

    /// The group's lead, reading every lead from `store` the first time.
    public func lead(of group: String, store: any IncidentStoring) async -> Lead? {
        // The store is read outside the lock (it may wait on a database); of several first
        // callers reading it at once, the first to take the lock loads what it read.
        if lock.withLock({ !loaded }) {
            let incidents = await store.all().incidents
            lock.withLock {
                if !loaded {
                    loaded = true
                    load(incidents)
                }
            }
        }
        return lock.withLock { leads[group] }
    }

    /// Makes `lead` the group's lead if its lead is still `replacing` (nil: none): nil then.
    /// Otherwise the lead that another alert claimed meanwhile, for the caller to decide again.
    public func claim(_ group: String, lead: Lead, replacing: Lead?) -> Lead? {
        lock.lock()
        defer { lock.unlock() }
        guard leads[group] == replacing else { return leads[group] }
        leads[group] = lead
        return nil
    }

    /// Forgets `key` as the group's lead (its incident could not be made durable).
    public func release(_ group: String, key: String) {
        lock.lock()
        defer { lock.unlock() }
        if leads[group]?.key == key { leads[group] = nil }
    }

    /// The lead of each group among `incidents`: of its firing incidents with a run, the first
    /// opened that was not folded into the run of an earlier incident of the group (whose lead
    /// has been resolved since, so its members lead nothing).
    private func load(_ incidents: [AlertIncident]) {
        var runsOfGroup: [String: Set<String>] = [:]
        for incident in incidents.sorted(by: { $0.openedAt < $1.openedAt }) {
            guard let runID = incident.runID,
                  let group = Self.group(groupKey: incident.groupKey, playbook: incident.playbook, target: incident.target) else { continue }
            defer { runsOfGroup[group, default: []].insert(runID) }
            guard incident.status == .firing, leads[group] == nil else { continue }
            if incident.foldedInto != nil, runsOfGroup[group]?.contains(runID) == true { continue }
            leads[group] = Lead(key: incident.key, runID: runID, folded: incident.foldedInto != nil)
        }
    }
}
