import Foundation

/// Which of several servers sharing their incidents sends each due escalation level: each keeps
/// its own ledger, and asks this before calling any channel, so a level is sent by one server.
///
/// Guarantees an implementation gives: of any number of servers claiming one level, one gets it
/// (`mine`) for a while; a claim whose server never marked the level sent (it died) may be
/// claimed again once it expires, so no level is skipped; a level marked sent is never claimed
/// again (`sentElsewhere`). Sending is at least once: a server that sent and died before marking
/// it has the level sent again by the next claimant.
public protocol EscalationClaims: Sendable {
    func claim(incident: String, level: Int) async throws -> EscalationClaim
    func markSent(incident: String, level: Int) async throws
}

/// What a claim of a level found.
public enum EscalationClaim: Sendable, Equatable {
    /// This server sends it.
    case mine
    /// Another server holds it now: ask again later.
    case heldElsewhere
    /// Another server sent it.
    case sentElsewhere
}
