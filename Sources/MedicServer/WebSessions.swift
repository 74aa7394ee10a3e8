import Crypto
import Foundation
import MedicEngine

/// The web page's logins: a person pastes a bearer token into the login form once, and the
/// browser then carries an opaque session id in a cookie instead of the token.
///
/// The id is 32 bytes of the system's secure random generator, so it cannot be guessed, and it
/// means something only while its store holds it (this process's memory, or the database the
/// servers share): a cookie cannot be forged (there is no content to forge), it stops working
/// at logout, at its expiry or when its store forgets it, and it never carries the token. The
/// store keys sessions by the SHA-256 of the id, so a lookup's timing says nothing about a
/// guessed id, and the ids are not kept anywhere in the clear.
///
/// Each session has its own CSRF token, written into every form the page renders and checked
/// on every form post (docs/serving.md, "The web page").
struct WebSessions: Sendable {
    struct Session: Sendable {
        var identity: AccessIdentity
        var csrf: String
        var expires: Date
    }

    /// How long a login lasts, whatever is done with it meanwhile.
    static let lifetime: TimeInterval = 8 * 3600
    /// The most sessions kept: a login beyond it ends the one closest to its expiry.
    static let capacity = 10_000
    /// The most sessions one identity holds at once: its next login ends its own oldest, so that
    /// a token logging in again and again (any token, a sender's too) can crowd out only its own
    /// sessions, never another person's.
    static let perIdentity = 20

    let clock: any EngineClock
    let store: any WebSessionStoring
    /// Seconds a call to the store may take before the page gives up on it (nil: no limit).
    let timeout: Double?

    init(clock: any EngineClock, store: any WebSessionStoring = InMemoryWebSessions(), timeout: Double? = nil) {
        self.clock = clock
        self.store = store
        self.timeout = timeout
    }

    /// `body` within the store's time limit (a database that is down makes its pool wait).
    private func timed<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let timeout else { return try await body() }
        return try await answered(within: timeout, body)
    }

    /// A new session for `identity`: the id for the cookie, and the session.
    func open(_ identity: AccessIdentity) async throws -> (id: String, session: Session) {
        let id = Self.randomHex(bytes: 32)
        let now = clock.now
        let session = Session(identity: identity, csrf: Self.randomHex(bytes: 32), expires: now.addingTimeInterval(Self.lifetime))
        let record = WebSessionRecord(identity: identity.name, roles: identity.roles.map(\.rawValue).sorted(), csrf: session.csrf, expires: session.expires)
        let (store, digest) = (store, Self.digest(id))
        try await timed { try await store.insert(digest, record, now: now, perIdentity: Self.perIdentity, capacity: Self.capacity) }
        return (id, session)
    }

    /// The session of a cookie's id; nil when unknown, closed or expired.
    func session(_ id: String) async throws -> Session? {
        let (store, digest, now) = (store, Self.digest(id), clock.now)
        guard let found = try await timed({ try await store.session(digest, now: now) }) else { return nil }
        let identity = AccessIdentity(name: found.identity, roles: Set(found.roles.compactMap(AccessRole.init(rawValue:))))
        return Session(identity: identity, csrf: found.csrf, expires: found.expires)
    }

    /// Takes the session's flash away, for the page that shows it.
    func takeFlash(_ id: String) async throws -> WebFlash? {
        let (store, digest) = (store, Self.digest(id))
        return try await timed { try await store.takeFlash(digest) }.map { WebFlash(ok: $0.ok, message: $0.message) }
    }

    func setFlash(_ id: String, _ flash: WebFlash) async throws {
        let (store, digest) = (store, Self.digest(id))
        try await timed { try await store.setFlash(digest, .init(ok: flash.ok, message: flash.message)) }
    }

    func close(_ id: String) async throws {
        let (store, digest) = (store, Self.digest(id))
        try await timed { try await store.close(digest) }
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    static func digest(_ id: String) -> String {
        Crypto.SHA256.hash(data: Array(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two secrets in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count, !left.isEmpty else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

/// One line about what a form post did, for the page after the redirect.
struct WebFlash: Sendable, Equatable {
    var ok: Bool
    var message: String
}

/// The cookies of the page: `medic_session` (the session id) and `medic_login` (the login
/// form's CSRF token, a random value the form repeats: a post from another site has no cookie).
enum WebCookies {
    static let session = "medic_session"
    static let login = "medic_login"

    /// HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/.
    /// Not Secure: the server speaks plain HTTP (loopback by default), where a Secure cookie
    /// would never be sent back; behind a proxy terminating TLS, the proxy adds it.
    static func set(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)"
    }

    static func clear(_ name: String) -> String {
        "\(name)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    }

    /// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
    static func value(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
