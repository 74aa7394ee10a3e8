import Foundation
import MedicEngine

/// An executor that runs nothing: it records every request and answers with `respond`
/// (success by default). For tests, and for benchmarks of the engine without the cost of a step.
public final class RecordingExecutor: StepExecutor, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [ExecutionRequest] = []
    private let respond: @Sendable (ExecutionRequest) -> ExecutionResult

    public init(respond: @escaping @Sendable (ExecutionRequest) -> ExecutionResult = { _ in
        ExecutionResult(succeeded: true, exitStatus: 0, summary: "recorded")
    }) {
        self.respond = respond
    }

    /// Every request, in the order they arrived.
    public var requests: [ExecutionRequest] { lock.withLock { recorded } }

    public func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        lock.withLock { recorded.append(request) }
        return respond(request)
    }
}
