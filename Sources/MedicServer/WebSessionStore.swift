import Foundation

/// One login of the web page as a store keeps it: keyed by the SHA-256 of the cookie's id, never
/// the id itself.
public struct WebSessionRecord: Sendable, Equatable {
    public var identity: String
    public var roles: [String]
    public var csrf: String
    public var expires: Date
    /// What the last form post did, shown once by the next page.
    public var flash: Flash?

    public struct Flash: Sendable, Equatable {
        public var ok: Bool
        public var message: String

        public init(ok: Bool, message: String) {
            self.ok = ok
            self.message = message
        }
    }

    public init(identity: String, roles: [String], csrf: String, expires: Date, flash: Flash? = nil) {
        (self.identity, self.roles, self.csrf, self.expires, self.flash) = (identity, roles, csrf, expires, flash)
    }
}

/// Where the web page's sessions are kept: this process's memory (`InMemoryWebSessions`, a
/// server alone), or a database its servers share, so that a person logged in through one
/// server is logged in at every server behind the same address.
///
/// Guarantees asked of an implementation: `insert` keeps at most `perIdentity` live sessions of
/// one identity and `capacity` in all, ending the ones closest to their expiry first; `session`
/// never answers one expired at `now`; `takeFlash` hands a flash out once; `close` ends the
/// session for every server at once. A store that cannot answer throws: the page answers 503
/// rather than treating the person as logged out.
public protocol WebSessionStoring: Sendable {
    func insert(_ digest: String, _ session: WebSessionRecord, now: Date, perIdentity: Int, capacity: Int) async throws
    func session(_ digest: String, now: Date) async throws -> WebSessionRecord?
    func takeFlash(_ digest: String) async throws -> WebSessionRecord.Flash?
    func setFlash(_ digest: String, _ flash: WebSessionRecord.Flash) async throws
    func close(_ digest: String) async throws
}

/// The sessions of one process: they end with it.
public final class InMemoryWebSessions: WebSessionStoring, @unchecked Sendable {  // `sessions` only under `lock`
    private let lock = NSLock()
    private var sessions: [String: WebSessionRecord] = [:]

    public init() {}

    public func insert(_ digest: String, _ session: WebSessionRecord, now: Date, perIdentity: Int, capacity: Int) {
        lock.withLock {
            sessions = sessions.filter { $0.value.expires > now }
            let own = sessions.filter { $0.value.identity == session.identity }
            if own.count >= perIdentity, let oldest = own.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            sessions[digest] = session
        }
    }

    public func session(_ digest: String, now: Date) -> WebSessionRecord? {
        lock.withLock {
            guard let found = sessions[digest] else { return nil }
            guard found.expires > now else {
                sessions[digest] = nil
                return nil
            }
            return found
        }
    }

    public func takeFlash(_ digest: String) -> WebSessionRecord.Flash? {
        lock.withLock {
            defer { sessions[digest]?.flash = nil }
            return sessions[digest]?.flash
        }
    }

    public func setFlash(_ digest: String, _ flash: WebSessionRecord.Flash) {
        lock.withLock { sessions[digest]?.flash = flash }
    }

    public func close(_ digest: String) {
        _ = lock.withLock { sessions.removeValue(forKey: digest) }
    }
}
