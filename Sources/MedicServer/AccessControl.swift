import Foundation
import Hummingbird
import MedicEngine
import NIOCore

/// Puts a route behind the bearer tokens: `access.require(.approver) { request, context, identity in ... }`
/// gives a handler for the router that answers 401 (no token, or one no entry has, with
/// `WWW-Authenticate: Bearer`), 403 (the identity lacks the role) or 429 (the identity is over its
/// rate) before the wrapped handler runs, and hands it the authenticated identity otherwise.
///
/// Without tokens configured (the server then listens on loopback only) every caller is
/// `AccessIdentity.anonymous`: a viewer, refused (403) every mutating route, except the
/// ingestion routes (`openWithoutTokens`), which stay open on loopback so that an Alertmanager
/// on the same host needs no setup.
public struct AccessControl: Sendable {
    public let tokens: AccessTokens
    let limiter: RateLimiter

    /// `ratePerMinute`: the requests one identity may make in a minute, in bursts of as many.
    public init(tokens: AccessTokens, ratePerMinute: Int, clock: any EngineClock) {
        self.tokens = tokens
        self.limiter = RateLimiter(perMinute: ratePerMinute, clock: clock)
    }

    public enum Decision: Sendable, Equatable {
        case allowed(AccessIdentity)
        case unauthenticated(String)
        case forbidden(String)
        case limited(retryAfter: Int)
    }

    /// What a request with this `Authorization` header may do on a route needing `role`.
    /// `openWithoutTokens`: without tokens configured the anonymous caller is let through whatever
    /// `role` is. `limited`: false for the routes a machine calls at its own pace (the webhook,
    /// the events, the scrape), where a 429 would lose alerts or samples rather than slow a person.
    public func decide(authorization: String?, role: AccessRole, openWithoutTokens: Bool = false, limited: Bool = true) -> Decision {
        let identity: AccessIdentity
        if tokens.isEmpty {
            if openWithoutTokens { return .allowed(.anonymous) }
            identity = .anonymous
        } else {
            guard let authorization else { return .unauthenticated("this endpoint needs a bearer token (Authorization: Bearer TOKEN)") }
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return .unauthenticated("the Authorization header must be 'Bearer TOKEN'")
            }
            guard let known = tokens.identity(of: parts[1].trimmingCharacters(in: .whitespaces)) else {
                return .unauthenticated("the token is not valid")
            }
            identity = known
        }
        guard identity.holds(role) else {
            let why = tokens.isEmpty ? "; no tokens are configured, so callers may only read (see medic token create)" : ""
            return .forbidden("'\(identity.name)' does not hold the role \(role.rawValue)\(why)")
        }
        if limited, let wait = limiter.take(identity.name) { return .limited(retryAfter: wait) }
        return .allowed(identity)
    }

    /// The handler that checks `role` first (see the type's comment).
    public func require<Context: RequestContext>(
        _ role: AccessRole, openWithoutTokens: Bool = false, limited: Bool = true,
        _ handler: @escaping @Sendable (Request, Context, AccessIdentity) async throws -> Response
    ) -> @Sendable (Request, Context) async throws -> Response {
        { request, context in
            switch decide(authorization: request.headers[.authorization], role: role, openWithoutTokens: openWithoutTokens, limited: limited) {
            case .allowed(let identity):
                return try await handler(request, context, identity)
            case .unauthenticated(let message):
                var response = ServerRoutes.error(.unauthorized, message)
                response.headers[.wwwAuthenticate] = "Bearer realm=\"medic\""
                return response
            case .forbidden(let message):
                return ServerRoutes.error(.forbidden, message)
            case .limited(let wait):
                var response = ServerRoutes.error(.tooManyRequests, "too many requests from this identity; retry in \(wait) s")
                response.headers[.retryAfter] = "\(wait)"
                return response
            }
        }
    }
}

/// A token bucket per identity: `perMinute` requests at once, refilled at `perMinute` a minute,
/// timed on the engine's clock.
final class RateLimiter: @unchecked Sendable {  // `buckets` only under `lock`
    let perMinute: Int
    let clock: any EngineClock
    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, at: Date)] = [:]

    init(perMinute: Int, clock: any EngineClock) {
        self.perMinute = max(1, perMinute)
        self.clock = clock
    }

    /// Takes one request from `identity`'s bucket: nil when allowed, else the seconds to wait.
    func take(_ identity: String) -> Int? {
        let now = clock.now
        let capacity = Double(perMinute), rate = Double(perMinute) / 60
        return lock.withLock {
            var bucket = buckets[identity] ?? (capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + max(0, now.timeIntervalSince(bucket.at)) * rate)
            bucket.at = now
            defer { buckets[identity] = bucket }
            guard bucket.tokens >= 1 else { return Int(((1 - bucket.tokens) / rate).rounded(.up)) }
            bucket.tokens -= 1
            return nil
        }
    }
}
