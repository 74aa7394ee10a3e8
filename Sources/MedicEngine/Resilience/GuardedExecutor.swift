import Foundation
import AsyncHTTPClient
import MedicModel
import MedicResilience

/// A step executor whose every call goes through the engine's guard of its destination:
/// `shell:<target>` (the run's or rollout's target, else `local`), `http:<host>:<port>` of the
/// request's URL, `bus:outbox`, `bus:stdout` or `bus:webhook:<host>:<port>`.
///
/// A refusal (breaker open, bulkhead full) is a failed result saying which guard refused, why,
/// and when it lets a call through again: the interpreter journals it as any failed attempt,
/// and nothing was run. What counts as the destination failing, for its breaker: a shell step
/// that timed out, was killed or could not be started (a script that exits non-zero has
/// answered); an HTTP request that got no answer or a 5xx; a bus event not published. The guard
/// never retries a step and has no timeout of its own (`GuardKind.isStep`).
public struct GuardedExecutor: StepExecutor {
    public let inner: any StepExecutor
    public let kind: ExecutorKind
    public let guards: ExecutorGuards

    /// Keys of URLs without references, already worked out (a step's URL is usually fixed).
    private let knownKeys = GuardLocked<[String: String]>([:])

    public init(_ inner: any StepExecutor, kind: ExecutorKind, guards: ExecutorGuards) {
        self.inner = inner
        self.kind = kind
        self.guards = guards
    }

    public func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        try await execute(request, started: { _ in })
    }

    public func execute(_ request: ExecutionRequest, started: @escaping @Sendable (StepProcess) -> Void) async throws -> ExecutionResult {
        // A request that cannot be sent as written has no destination: the executor says why.
        guard let key = key(for: request) else { return try await inner.execute(request, started: started) }
        let inner = inner, kind = kind
        do {
            return try await guards.call(key) {
                let result = try await inner.execute(request, started: started)
                if Self.destinationFailed(kind, result) { throw DestinationFailure(result: result) }
                return result
            }
        } catch let failure as DestinationFailure {
            return failure.result
        } catch let refusal as ResilienceError {
            return ExecutionResult(succeeded: false, summary: guards.explain(refusal) + "; not run")
        }
    }

    /// The guard's key of `request`; nil when it names no destination (an HTTP request that
    /// cannot be prepared).
    public func key(for request: ExecutionRequest) -> String? {
        switch kind {
        case .shell:
            return "shell:" + (request.parameters["target"].flatMap { $0.isEmpty ? nil : $0 } ?? "local")
        case .http:
            guard let spec = request.request, let http = inner as? HTTPExecutor else { return nil }
            // Without references the request is sent as written: its URL alone names the destination.
            let fixed = !spec.url.contains("${") && !spec.headers.values.contains { $0.contains("${") } && spec.body?.contains("${") != true
            if fixed, let known = knownKeys.value[spec.url] { return known }
            guard case .success(let prepared) = http.prepare(spec, parameters: request.parameters),
                  let url = URLComponents(string: prepared.url) else { return nil }
            let key = "http:" + Self.hostAndPort(url)
            if fixed {
                knownKeys.modify { keys in
                    if keys.count >= 1024 { keys.removeAll() }
                    keys[spec.url] = key
                }
            }
            return key
        case .bus:
            switch (inner as? BusExecutor)?.transport {
            case .outbox?, nil: return "bus:outbox"
            case .stdout?: return "bus:stdout"
            case .webhook(let url, _)?: return "bus:webhook:" + (URLComponents(string: url).map(Self.hostAndPort) ?? "invalid")
            }
        }
    }

    /// `host:port`, the scheme's port when the URL has none.
    static func hostAndPort(_ url: URLComponents) -> String {
        let host = url.host ?? ""
        let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
        // An IPv6 address in brackets, as in the URL (Foundation gives the host with or without them).
        return (host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host) + ":\(port)"
    }

    /// Whether `result` tells of the destination failing, as its breaker counts.
    static func destinationFailed(_ kind: ExecutorKind, _ result: ExecutionResult) -> Bool {
        guard !result.succeeded else { return false }
        switch kind {
        case .shell: return result.timedOut || result.signal != nil
        case .http: return result.timedOut || (result.exitStatus.map { $0 >= 500 } ?? true)
        case .bus: return true
        }
    }

    /// A result the breaker counts as a failure, carried out of the guard.
    struct DestinationFailure: Error {
        var result: ExecutionResult
    }
}

extension ExecutorSet {
    /// These executors, each behind `guards`.
    public func guarded(by guards: ExecutorGuards) -> ExecutorSet {
        ExecutorSet(shell: GuardedExecutor(unguarded.shell, kind: .shell, guards: guards),
                    bus: GuardedExecutor(unguarded.bus, kind: .bus, guards: guards),
                    http: GuardedExecutor(unguarded.http, kind: .http, guards: guards))
    }

    /// These executors without their guards (for a caller with a guard of its own, such as a
    /// notification channel's).
    public var unguarded: ExecutorSet {
        func bare(_ executor: any StepExecutor) -> any StepExecutor { (executor as? GuardedExecutor)?.inner ?? executor }
        return ExecutorSet(shell: bare(shell), bus: bare(bus), http: bare(http))
    }
}
