import Crypto
import Foundation
import MedicEngine

/// The web page's logins: a person pastes a bearer token into the login form once, and the
/// browser then carries an opaque session id in a cookie instead of the token.
///
/// The id is 32 bytes of the system's secure random generator, so it cannot be guessed, and it
/// means something only while this process holds it: a cookie cannot be forged (there is no
/// content to forge), it stops working at logout, at its expiry or at a restart, and it never
/// carries the token. The store keys sessions by the SHA-256 of the id, so a lookup's timing
/// says nothing about a guessed id, and the ids are not kept in memory in the clear.
///
/// Each session has its own CSRF token, written into every form the page renders and checked
/// on every form post (docs/serving.md, "The web page").
final class WebSessions: @unchecked Sendable {  // `sessions` only under `lock`
    struct Session: Sendable {
        var identity: AccessIdentity
        var csrf: String
        var expires: Date
        /// What the last form post did, shown once by the next page (Post/Redirect/Get).
        var flash: WebFlash?
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
    private let lock = NSLock()
    private var sessions: [String: Session] = [:]

    init(clock: any EngineClock) { self.clock = clock }

    /// A new session for `identity`: the id for the cookie, and the session.
    func open(_ identity: AccessIdentity) -> (id: String, session: Session) {
        let id = Self.randomHex(bytes: 32)
        let now = clock.now
        let session = Session(identity: identity, csrf: Self.randomHex(bytes: 32), expires: now.addingTimeInterval(Self.lifetime))
        lock.withLock {
            sessions = sessions.filter { $0.value.expires > now }
            let own = sessions.filter { $0.value.identity.name == identity.name }
            if own.count >= Self.perIdentity, let oldest = own.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            if sessions.count >= Self.capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            sessions[Self.digest(id)] = session
        }
        return (id, session)
    }

    /// The session of a cookie's id; nil when unknown, closed or expired.
    func session(_ id: String) -> Session? {
        let key = Self.digest(id), now = clock.now
        return lock.withLock {
            guard let found = sessions[key] else { return nil }
            guard found.expires > now else {
                sessions[key] = nil
                return nil
            }
            return found
        }
    }

    /// Takes the session's flash away, for the page that shows it.
    func takeFlash(_ id: String) -> WebFlash? {
        let key = Self.digest(id)
        return lock.withLock {
            defer { sessions[key]?.flash = nil }
            return sessions[key]?.flash
        }
    }

    func setFlash(_ id: String, _ flash: WebFlash) {
        let key = Self.digest(id)
        lock.withLock { sessions[key]?.flash = flash }
    }

    func close(_ id: String) {
        let key = Self.digest(id)
        _ = lock.withLock { sessions.removeValue(forKey: key) }
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
