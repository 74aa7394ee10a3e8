import Foundation
import Logging
import MedicEngine
import ServiceLifecycle

/// The health checks of `medic serve --health-checks FILE` (docs/health.md): a round every
/// `tick` seconds (each check runs when its interval is due), each round's snapshot put on
/// `/metrics`. It stops at the graceful shutdown, before the runs drain.
public struct HealthService: Service {
    let monitor: HealthMonitor
    let metrics: ServerMetrics
    let tick: Double
    let logger: Logger

    public init(monitor: HealthMonitor, metrics: ServerMetrics, tick: Double, logger: Logger) {
        self.monitor = monitor
        self.metrics = metrics
        self.tick = tick
        self.logger = logger
    }

    public func run() async throws {
        logger.notice("medic serve: health: \(monitor.file.checks.count) check(s) of \(monitor.file.components.count) component(s)")
        try? await cancelWhenGracefulShutdown { [monitor, metrics, tick, logger] in
            var lastProblems: [String] = []
            while !Task.isCancelled {
                let snapshot = await monitor.round()
                metrics.record(snapshot)
                if snapshot.problems != lastProblems {
                    for problem in snapshot.problems { logger.warning("medic serve: health: \(problem)") }
                    lastProblems = snapshot.problems
                }
                try await Task.sleep(for: .seconds(tick))
            }
        }
    }
}

extension ServerMetrics {
    /// One round's health as gauges. A component, check or system stays on the page once seen.
    public func record(_ snapshot: HealthSnapshot) {
        registry.makeGauge(descriptor: Self.name("health_score", unit: "", help: "Aggregate health score 0-100 of the checked systems (docs/health.md)."))
            .set(to: Double(snapshot.score))
        for component in snapshot.components {
            registry.makeGauge(descriptor: Self.name("health_state", unit: "", help: "Each component's state: 0 HEALTHY, 1 DEGRADED, 2 UNHEALTHY, 3 CRITICAL."),
                               labels: [("component", component.component)]).set(to: Double(component.state.value))
            registry.makeGauge(descriptor: Self.name("health_component_score", unit: "", help: "Each component's health score 0-100."),
                               labels: [("component", component.component)]).set(to: Double(component.score))
        }
        for check in snapshot.checks {
            registry.makeGauge(descriptor: Self.name("health_check_up", unit: "", help: "1 when a health check passed its last run, else 0."),
                               labels: [("check", check.name), ("component", check.component), ("tier", check.tier.rawValue)])
                .set(to: check.passed ? 1 : 0)
        }
        for system in snapshot.degradation {
            registry.makeGauge(descriptor: Self.name("degradation_level", unit: "", help: "Each system's degradation level in force: 0 full, 1 reduced, 2 minimal, 3 emergency."),
                               labels: [("system", system.system)]).set(to: Double(system.level.rank))
        }
        for feature in snapshot.features {
            registry.makeGauge(descriptor: Self.name("degradation_feature_on", unit: "", help: "1 when a degradation feature is on at the most degraded level in force, else 0."),
                               labels: [("feature", feature.name)]).set(to: feature.on ? 1 : 0)
        }
    }
}
