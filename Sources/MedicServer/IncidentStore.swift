import Foundation

/// An incident opened by an alert, or by an anomaly rule of `medic serve` whose firing started
/// a run: what Medic decided to do about it, fixed when it was opened, so that a restart carries
/// out the same decision.
public struct AlertIncident: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case firing, resolved }

    /// How the incident is handled.
    public enum Handling: String, Sendable, Codable {
        /// A route of the configuration chose the playbook.
        case route
        /// No route matched; the alert's `alertname` is a playbook id of the library.
        case alertname
        /// No playbook can take it: it is recorded, for people (`reason` says why).
        case unhandled
        /// An anomaly rule fired and the server's rule watch started its run (`run_id`): the
        /// incident is kept for people and for escalation; its run is the watch's, never started
        /// from here.
        case rule
    }

    /// `<fingerprint>-<startsAt in milliseconds>`: one firing of one alert. Alertmanager repeats
    /// both in every post about it (repeats, retries, the resolved post).
    public var key: String
    public var fingerprint: String
    public var groupKey: String
    public var receiver: String
    public var status: Status
    public var labels: [String: String]
    public var annotations: [String: String]
    public var startsAt: String
    public var generatorURL: String
    /// When Medic opened it (its clock), RFC 3339.
    public var openedAt: String
    public var resolvedAt: String?
    public var handling: Handling
    public var reason: String?
    /// The route's position in the configuration (0-based), for `handling == .route`.
    public var route: Int?
    public var playbook: String?
    public var parameters: [String: String]
    public var target: String?
    /// The id the incident's run has (or will have: the run is started after the incident is
    /// durable, so a restart in between finds an incident whose run has no journal yet).
    public var runID: String?
    /// Who acknowledged it and when (RFC 3339), with their note: a person taking it on.
    public var acknowledgement: PersonDecision? = nil
    /// Who resolved it by hand (`medic resolve`, `POST .../resolve`); nil when the alert resolved it.
    public var resolution: PersonDecision? = nil
    /// Set when the run handling it was started by another trigger (an anomaly rule's firing
    /// or another alert) for the same playbook on the same targets: `runID` is that run.
    public var foldedInto: String? = nil
    /// For a route with candidates (`playbooks:`): how `playbook` was chosen among them.
    public var ranking: IncidentRanking? = nil
    /// For `handling == .rule`: the rule's name and its severity (`SEV0`..`SEV3`).
    public var rule: String? = nil
    public var ruleSeverity: String? = nil

    enum CodingKeys: String, CodingKey {
        case key, fingerprint, status, labels, annotations, reason, route, playbook, parameters, target, handling, receiver
        case groupKey = "group_key", startsAt = "starts_at", generatorURL = "generator_url", openedAt = "opened_at"
        case resolvedAt = "resolved_at", runID = "run_id", acknowledgement, resolution, foldedInto = "folded_into", ranking, rule
        case ruleSeverity = "rule_severity"
    }
}

/// Where alert incidents are kept.
///
/// Guarantees:
/// - **Atomic claim of an incident key** (`open`): of any number of callers, in any number of
///   processes, opening one key, exactly one creates the incident (`created: true`); every other
///   gets the incident as it is stored (`created: false`) and starts nothing.
/// - **Durable before it returns**: `open`, `resolve` and `update` return only once the incident, as they
///   leave it, survives a crash of the process and of the machine. An HTTP answer sent after
///   them never announces an incident a crash can lose.
/// - **Whole**: a reader sees an incident as one writer left it, never a part of it.
/// - **Bad input changes nothing**: a failure throws and leaves the store as it was.
public protocol IncidentStoring: Sendable {
    /// Opens `incident` unless one with its key exists: (the stored incident, whether this call created it).
    func open(_ incident: AlertIncident) async throws -> (incident: AlertIncident, created: Bool)
    /// Marks the incident resolved at `at` (RFC 3339); nil when no incident has the key. An
    /// incident already resolved is left as it is.
    func resolve(key: String, at: String) async throws -> AlertIncident?
    /// Changes the incident `key` as one step: no other `resolve` or `update` of it runs
    /// between the read `change` is given and the write of what it leaves. `change` edits the
    /// incident, or returns why it refuses (then nothing is written); a throw from it writes
    /// nothing either. nil when no incident has the key.
    func update(key: String, _ change: (inout AlertIncident) async throws -> String?) async throws -> IncidentUpdate?
    func incident(key: String) async throws -> AlertIncident?
    /// Every incident, in no particular order (damaged ones are reported, not returned).
    func all() async -> (incidents: [AlertIncident], problems: [String])
    /// The key of every incident, without reading the incidents (throws when they cannot be listed).
    func keys() async throws -> [String]
    /// Where the incidents are kept, for people (a folder, a database).
    var location: String { get }
    /// Why the store cannot take an incident now (a folder not writable, a database not
    /// answering), or nil when it can.
    func unavailability() async -> String?
}

/// What `IncidentStoring.update` did.
public enum IncidentUpdate: Sendable, Equatable {
    /// The change is durable: the incident as it is now.
    case changed(AlertIncident)
    /// The change refused, with why; nothing was written.
    case refused(String)
}
