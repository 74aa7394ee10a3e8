import Foundation

/// The lead incident of an Alertmanager group (`AlertGroups`): the group's later alerts fold
/// into its run.
public struct AlertGroupLead: Sendable, Equatable {
    /// The lead incident's key.
    public var key: String
    /// The run the group's alerts fold into.
    public var runID: String
    /// Whether that run is another trigger's, which the lead folded into.
    public var folded: Bool

    public init(key: String, runID: String, folded: Bool) {
        self.key = key
        self.runID = runID
        self.folded = folded
    }
}

/// Where the groups' leads are kept: in memory for one server (`AlertGroups`), in the shared
/// database for several, so that alerts of one group reaching different servers still fold
/// into one run.
///
/// Guarantees: `claim` is a compare-and-set (of any number of callers replacing one lead, one
/// succeeds; the others get the lead in place, to decide again); `release` forgets a lead only
/// if it is still `key`'s.
public protocol AlertGroupLeads: Sendable {
    /// The group's lead, if any.
    func lead(of group: String, store: any IncidentStoring) async -> AlertGroupLead?
    /// Makes `lead` the group's lead if its lead is still `replacing` (nil: none): nil then.
    /// Otherwise the lead in place, for the caller to decide again. Throws when it cannot tell.
    func claim(_ group: String, lead: AlertGroupLead, replacing: AlertGroupLead?) async throws -> AlertGroupLead?
    /// Forgets `key` as the group's lead (its incident could not be made durable).
    func release(_ group: String, key: String) async
}
