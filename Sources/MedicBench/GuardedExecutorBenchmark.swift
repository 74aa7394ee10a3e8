import Foundation
import MedicEngine
import MedicModel

/// `guard-executor`: an HTTP step's executor call against a loopback server in this process,
/// bare (`HTTPExecutor`) and through the engine's guard (`GuardedExecutor`, breaker closed,
/// bulkhead free), interleaved round by round: what the guard adds to a real executor call path
/// (the key from the prepared URL, the guard's locks, its bookkeeping and histogram).
enum GuardedExecutorBenchmark {
    static func run(calls: Int, rounds: Int) async throws {
        let server = try await EchoServer.start()
        defer { server.task.cancel() }
        let environment = EngineEnvironment(clock: SystemClock())
        let bare = HTTPExecutor(client: environment.http)
        let guarded = GuardedExecutor(bare, kind: .http, guards: environment.guards)
        let request = ExecutionRequest(runID: "bench", stepNumber: 1, stepName: "call", action: "call", purpose: .step, executor: .http,
                                       request: HTTPRequestSpec(method: "POST", url: server.baseURL + "/api/v1/alerts", body: "{}",
                                                                expectStatus: [200]),
                                       timeout: 30)
        // Warm the connection pool and the guard.
        for _ in 0..<50 {
            _ = try await bare.execute(request)
            _ = try await guarded.execute(request)
        }
        var plain: [Double] = [], through: [Double] = []
        var failed = 0
        for round in 0..<rounds {
            // Alternate which goes first, so neither always meets a warmer pool.
            for variant in round % 2 == 0 ? [0, 1] : [1, 0] {
                let executor: any StepExecutor = variant == 0 ? bare : guarded
                let start = ContinuousClock.now
                for _ in 0..<calls where !(try await executor.execute(request)).succeeded { failed += 1 }
                let perCall = micros(ContinuousClock.now - start) / Double(calls)
                if variant == 0 { plain.append(perCall) } else { through.append(perCall) }
            }
        }
        try? await environment.shutdown()
        let (b, g) = (median(plain), median(through))
        report("guard-executor", [
            ("calls", calls), ("rounds", rounds), ("bare_us", b), ("guarded_us", g), ("overhead_us", g - b), ("failed", failed),
        ], lines: [
            "guard-executor: an HTTP step to a loopback server, \(calls) calls per round, \(rounds) rounds interleaved, median per call",
            String(format: "  HTTPExecutor bare          %8.1f µs", b),
            String(format: "  through its guard          %8.1f µs   overhead %+7.1f µs (%+.1f%%)", g, g - b, b > 0 ? (g - b) / b * 100 : 0),
            "  failed calls: \(failed)",
        ])
    }

    private static func micros(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
