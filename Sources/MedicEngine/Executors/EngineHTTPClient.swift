import AsyncHTTPClient

/// The HTTP client of the http and bus executors and the Prometheus metric source: one per
/// process, never shut down (like `HTTPClient.shared`), but configured for remediation rather
/// than for browsing: a refused connection fails at once instead of being retried until the
/// step's deadline, and redirects are not followed (a 3xx is an answer the action must expect).
enum EngineHTTPClient {
    static let shared: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
