import Foundation
import MedicServer
import PostgresNIO

/// The alert groups' leads in the database (`medic_group_leads`), so that the alerts of one
/// Alertmanager group reaching different servers fold into one run.
///
/// Guarantees: `claim` is a compare-and-set in one statement (an insert when there is no lead,
/// an update naming the lead it replaces); a lead whose incident never became durable (its
/// server died between the claim and the incident's commit) is given up once it is
/// `abandonedAfter` seconds old, so the group is not left folding into a run that never starts.
/// A database that cannot be read answers "no lead", and a claim then throws: the post opens
/// no incident and is answered 503 (Alertmanager retries it).
public struct PostgresAlertGroupLeads: AlertGroupLeads {
    public let database: StateDatabase
    public let abandonedAfter: Double

    public init(_ database: StateDatabase, abandonedAfter: Double = 30) {
        self.database = database
        self.abandonedAfter = abandonedAfter
    }

    public func lead(of group: String, store: any IncidentStoring) async -> AlertGroupLead? {
        try? await current(group)
    }

    /// The group's lead, unless it is abandoned: its incident does not exist and it is old.
    private func current(_ group: String) async throws -> AlertGroupLead? {
        var found: AlertGroupLead?
        let rows = try await database.client.query("""
            SELECT g.lead_key, g.run_id, g.folded FROM medic_group_leads g LEFT JOIN medic_incidents i ON i.key = g.lead_key
            WHERE g.group_id = \(group) AND (i.key IS NOT NULL OR g.claimed_at > clock_timestamp() - make_interval(secs => \(abandonedAfter)))
            """, logger: database.logger)
        for try await (key, run, folded) in rows.decode((String, String, Bool).self) { found = AlertGroupLead(key: key, runID: run, folded: folded) }
        return found
    }

    public func claim(_ group: String, lead: AlertGroupLead, replacing: AlertGroupLead?) async throws -> AlertGroupLead? {
        var replacing = replacing
        do {
            // A lead that vanished between the refusal and the look (released, abandoned) is
            // claimed again as "no lead"; a few times, then it is someone else's to decide.
            for _ in 0..<5 {
                if try await take(group, lead: lead, replacing: replacing) { return nil }
                if let other = try await current(group) { return other }
                replacing = nil
            }
        } catch {
            throw PostgresFailure("claiming the lead of an alert group", error, location: database.location)
        }
        throw PostgresFailure("claiming the lead of an alert group", Contended(), location: database.location)
    }

    /// One compare-and-set: no lead in place (or only an abandoned one), insert or take the
    /// abandoned row over; a lead in place, replace it only if it is still the one the caller
    /// decided against.
    private func take(_ group: String, lead: AlertGroupLead, replacing: AlertGroupLead?) async throws -> Bool {
        var claimed = false
        let rows = try await database.client.query("""
            INSERT INTO medic_group_leads AS held (group_id, lead_key, run_id, folded) VALUES (\(group), \(lead.key), \(lead.runID), \(lead.folded))
            ON CONFLICT (group_id) DO UPDATE SET lead_key = excluded.lead_key, run_id = excluded.run_id, folded = excluded.folded,
                claimed_at = clock_timestamp()
            WHERE held.lead_key = \(replacing?.key ?? "")
               OR (NOT EXISTS (SELECT 1 FROM medic_incidents i WHERE i.key = held.lead_key)
                   AND held.claimed_at <= clock_timestamp() - make_interval(secs => \(abandonedAfter)))
            RETURNING group_id
            """, logger: database.logger)
        for try await _ in rows.decode(String.self) { claimed = true }
        return claimed
    }

    struct Contended: Error, CustomStringConvertible {
        var description: String { "the group's lead kept changing" }
    }

    public func release(_ group: String, key: String) async {
        try? await database.client.perform("DELETE FROM medic_group_leads WHERE group_id = \(group) AND lead_key = \(key)", logger: database.logger)
    }
}
