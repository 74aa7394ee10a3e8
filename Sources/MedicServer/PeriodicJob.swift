import Foundation
import ServiceLifecycle

/// A job a server runs at once and then every `every` seconds, until it stops (a graceful stop
/// ends the wait; a job under way is let finish). The job says itself what it did.
public struct PeriodicJob: Service {
    public let every: Double
    public let job: @Sendable () async -> Void

    public init(every: Double, job: @escaping @Sendable () async -> Void) {
        self.every = every
        self.job = job
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await job()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: UInt64(max(every, 0.05) * 1e9)) }
        }
    }
}
