import AsyncHTTPClient
import Foundation
import NIOCore

/// The HTTP client of the http and bus executors and the Prometheus metric source, configured for
/// remediation rather than for browsing: a refused connection fails at once instead of being
/// retried until the step's deadline, and redirects are not followed (a 3xx is an answer the
/// action must expect).
///
/// One per engine environment, not per process: the connection pool is made on the first request
/// (an engine that never speaks HTTP starts nothing) and ends with `shutdown()`, or, failing
/// that, when the last reference goes (without waiting for it).
public final class EngineHTTPClient: @unchecked Sendable {
    private let lock = NSLock()
    private var made: HTTPClient?
    private var isShutDown = false

    public init() {}

    /// The client, made on first use. Throws once `shutdown()` has been called.
    var client: HTTPClient {
        get throws {
            try lock.withLock {
                guard !isShutDown else { throw HTTPClientError.alreadyShutdown }
                if let made { return made }
                var configuration = HTTPClient.Configuration()
                configuration.connectionPool.retryConnectionEstablishment = false
                configuration.redirectConfiguration = .disallow
                let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
                made = client
                return client
            }
        }
    }

    func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        try await client.execute(request, timeout: timeout)
    }

    func execute(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPClientResponse {
        try await client.execute(request, deadline: deadline)
    }

    /// Closes the connections; requests after it fail. Calling it again does nothing.
    public func shutdown() async throws {
        let client: HTTPClient? = lock.withLock {
            defer { isShutDown = true }
            return isShutDown ? nil : made
        }
        try await client?.shutdown()
    }

    deinit {
        // Nobody called shutdown(): close the pool in the background; the callback keeps the
        // client alive until it is closed (a client must never end while running).
        if let made, !isShutDown { made.shutdown { _ in withExtendedLifetime(made) {} } }
    }
}
