import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicModel
import XCTest

/// Health states, scores, trends and degradation (docs/health.md), on times given to them or on
/// a `ManualClock`; the monitor's checks are real commands.
final class HealthMonitorTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func testTheStateFollowsTheReferenceMatrix() {
        XCTAssertEqual(ComponentState.of(shallowFailures: 0, deepFailures: 0, comprehensiveFailures: 0), .healthy)
        XCTAssertEqual(ComponentState.of(shallowFailures: 1, deepFailures: 0, comprehensiveFailures: 0), .degraded)
        XCTAssertEqual(ComponentState.of(shallowFailures: 2, deepFailures: 0, comprehensiveFailures: 0), .degraded)
        XCTAssertEqual(ComponentState.of(shallowFailures: 3, deepFailures: 0, comprehensiveFailures: 0), .unhealthy)
        XCTAssertEqual(ComponentState.of(shallowFailures: 0, deepFailures: 1, comprehensiveFailures: 0), .unhealthy)
        XCTAssertEqual(ComponentState.of(shallowFailures: 0, deepFailures: 0, comprehensiveFailures: 1), .critical)
        XCTAssertEqual(ComponentState.of(shallowFailures: 5, deepFailures: 2, comprehensiveFailures: 1), .critical)
        XCTAssertEqual(ComponentState.allCases.map(\.value), [0, 1, 2, 3])
        XCTAssertEqual(ComponentState.allCases.map(\.calledLevel), [.full, .reduced, .minimal, .emergency])
    }

    private func result(_ name: String, _ tier: HealthTier, passed: Bool, component: String = "api") -> CheckResult {
        let check = HealthCheckDefinition(name: name, tier: tier, component: component, probe: .command("true"))
        return CheckResult(check: check, outcome: ProbeOutcome(passed: passed, detail: ""), at: start)
    }

    func testTheScoreWeighsDeeperChecksMoreAndComponentsGetTheirOwnState() {
        XCTAssertEqual(HealthAssessment.score([]), 100)
        let results = [result("a", .shallow, passed: true), result("b", .shallow, passed: false), result("c", .deep, passed: true),
                       result("d", .comprehensive, passed: false, component: "db")]
        XCTAssertEqual(HealthAssessment.score(Array(results.prefix(3))), 75, "1 + 2 of 1 + 1 + 2")
        XCTAssertEqual(HealthAssessment.score(results), 37, "3 of 8")
        let components = HealthAssessment.components(results, names: ["db", "api", "idle"])
        XCTAssertEqual(components.map(\.component), ["api", "db", "idle"])
        XCTAssertEqual(components.map(\.state), [.degraded, .critical, .healthy])
        XCTAssertEqual(components.map(\.score), [75, 0, 100])
        XCTAssertEqual(components[0].failing, ["b"])
    }

    func testTheTrendComparesTheNewestScoreWithTheOldestOfTheWindow() {
        var history = ScoreHistory()
        XCTAssertEqual(history.trend(now: start), .stable, "nothing yet")
        history.record(100, at: start)
        XCTAssertEqual(history.trend(now: start), .stable, "one point")
        history.record(96, at: start + 60)
        XCTAssertEqual(history.trend(now: start + 60), .stable, "within the margin")
        history.record(50, at: start + 120)
        XCTAssertEqual(history.trend(now: start + 120), .declining)
        history.record(50, at: start + 500)
        XCTAssertEqual(history.trend(now: start + 500), .stable, "the drop left the 5-minute window")
        history.record(80, at: start + 560)
        XCTAssertEqual(history.trend(now: start + 560), .improving)
        for minute in 1...70 { history.record(80, at: start + 560 + Double(minute) * 60) }
        XCTAssertTrue(history.points.allSatisfy { (start + 560 + 70 * 60).timeIntervalSince($0.at) <= 3600 }, "an hour is kept")
    }

    /// Worse at once; better only after `recoverAfter` of asking for it without a break, one
    /// level at a time; a relapse resets the wait.
    func testDegradationWorsensAtOnceAndRecoversWithHysteresisOneLevelAtATime() {
        var levels = DegradationLevels()
        XCTAssertEqual(levels.update(system: "api", called: .full, now: start, recoverAfter: 120), nil)
        XCTAssertEqual(levels.update(system: "api", called: .minimal, now: start + 1, recoverAfter: 120)?.to, .minimal)
        XCTAssertNil(levels.update(system: "api", called: .full, now: start + 10, recoverAfter: 120))
        XCTAssertNil(levels.update(system: "api", called: .full, now: start + 129, recoverAfter: 120), "119 s of health: not yet")
        XCTAssertNil(levels.update(system: "api", called: .minimal, now: start + 129.5, recoverAfter: 120), "a relapse")
        XCTAssertNil(levels.update(system: "api", called: .full, now: start + 130, recoverAfter: 120))
        XCTAssertNil(levels.update(system: "api", called: .full, now: start + 249, recoverAfter: 120), "the wait started again at 130")
        let up = levels.update(system: "api", called: .full, now: start + 250, recoverAfter: 120)
        XCTAssertEqual(up, DegradationLevels.Change(system: "api", from: .minimal, to: .reduced), "one level up, not straight to full")
        XCTAssertNil(levels.update(system: "api", called: .full, now: start + 369, recoverAfter: 120))
        XCTAssertEqual(levels.update(system: "api", called: .full, now: start + 370, recoverAfter: 120)?.to, .full)
        XCTAssertEqual(levels.update(system: "api", called: .emergency, now: start + 371, recoverAfter: 120)?.to, .emergency)
        XCTAssertEqual(levels.level(of: "api"), .emergency)
        XCTAssertEqual(levels.level(of: "db"), .full, "a system never seen is at full")
    }

    func testFeaturesAreOffFromTheirLevelAndWithAnyFeatureTheyDependOn() {
        let features = DegradationFeature.builtIn + [
            DegradationFeature(name: "bulk_reindex", offFrom: .emergency, dependsOn: ["automated_remediation_noncritical"]),
            DegradationFeature(name: "loop_a", offFrom: .emergency, dependsOn: ["loop_b"]),
            DegradationFeature(name: "loop_b", offFrom: .emergency, dependsOn: ["loop_a"]),
        ]
        let full = DegradationFeatures.on(features, at: .full)
        XCTAssertEqual(full["comprehensive_checks"], true)
        XCTAssertEqual(full["bulk_reindex"], true)
        XCTAssertEqual(full["loop_a"], false, "a cycle is off")
        XCTAssertEqual(DegradationFeatures.on(features, at: .reduced)["comprehensive_checks"], false)
        let minimal = DegradationFeatures.on(features, at: .minimal)
        XCTAssertEqual(minimal["automated_remediation"], true)
        XCTAssertEqual(minimal["automated_remediation_noncritical"], false)
        XCTAssertEqual(minimal["bulk_reindex"], false, "its dependency is off, though its own level allows it")
        let emergency = DegradationFeatures.on(features, at: .emergency)
        XCTAssertEqual(emergency.values.filter { $0 }.count, 0)
    }

    /// A deep command check with two retries, on a manual clock: it goes UNHEALTHY after three
    /// attempts, the system drops to `minimal` at once and climbs back one level per
    /// `recover_after` once healthy; each change is published once on the bus.
    func testTheMonitorRunsChecksRetriesThemAndMovesTheDegradationLevel() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let ok = dir.appendingPathComponent("ok").path
        let attempts = dir.appendingPathComponent("attempts").path
        XCTAssertTrue(FileManager.default.createFile(atPath: ok, contents: nil))
        let check = HealthCheckDefinition(name: "api_ok", tier: .deep, component: "api",
                                          probe: .command("echo x >> '\(attempts)'; test -e '\(ok)'"), interval: 30, timeout: 10)
        let file = HealthChecksFile(checks: [check], degradation: DegradationSettings(recoverAfter: 120))
        let clock = ManualClock(start: start)
        let outbox = dir.appendingPathComponent("outbox.jsonl").path
        let state = dir.appendingPathComponent("state").path
        let monitor = HealthMonitor(file: file, probes: HealthProbes(), stateDirectory: state, clock: clock,
                                    bus: BusExecutor(transport: .outbox(path: outbox), clock: clock))
        func events() -> [[String: Any]] {
            ((try? String(contentsOfFile: outbox, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func attemptCount() -> Int { ((try? String(contentsOfFile: attempts, encoding: .utf8)) ?? "").split(separator: "\n").count }

        var snapshot = await monitor.round()
        XCTAssertEqual(snapshot.state(of: "api"), .healthy)
        XCTAssertEqual(snapshot.score, 100)
        XCTAssertEqual(attemptCount(), 1)
        XCTAssertTrue(events().isEmpty, "nothing changed")

        try FileManager.default.removeItem(atPath: ok)
        clock.advance(seconds: 10)
        snapshot = await monitor.round()
        XCTAssertEqual(attemptCount(), 1, "not due before its 30 s interval")
        clock.advance(seconds: 20)
        snapshot = await monitor.round()
        XCTAssertEqual(attemptCount(), 4, "one attempt and two retries")
        XCTAssertEqual(snapshot.checks.first?.attempts, 3)
        XCTAssertEqual(snapshot.state(of: "api"), .unhealthy)
        XCTAssertEqual(snapshot.score, 0)
        XCTAssertEqual(snapshot.trend, .declining)
        XCTAssertEqual(snapshot.degradation.map(\.level), [.minimal])
        XCTAssertEqual(snapshot.features.first { $0.name == "automated_remediation_noncritical" }?.on, false)
        XCTAssertEqual(events().compactMap { $0["type"] as? String },
                       [HealthMonitor.checkFailedTopic, HealthMonitor.stateChangedTopic, HealthMonitor.degradationChangedTopic])
        let failed = try XCTUnwrap(events().first?["data"] as? [String: String])
        XCTAssertEqual(failed["action"], "remediate", "§2.4: a deep failure calls for remediation")
        XCTAssertEqual(failed["attempts"], "3")
        XCTAssertEqual((events().last?["data"] as? [String: String])?["to"], "minimal")

        XCTAssertTrue(FileManager.default.createFile(atPath: ok, contents: nil))
        clock.advance(seconds: 30)
        snapshot = await monitor.round()
        XCTAssertEqual(snapshot.state(of: "api"), .healthy)
        XCTAssertEqual(snapshot.degradation.map(\.level), [.minimal], "hysteresis: healthy for 0 s")
        clock.advance(seconds: 120)
        snapshot = await monitor.round()
        XCTAssertEqual(snapshot.degradation.map(\.level), [.reduced])
        clock.advance(seconds: 120)
        snapshot = await monitor.round()
        XCTAssertEqual(snapshot.degradation.map(\.level), [.full])
        let types = events().compactMap { $0["type"] as? String }
        XCTAssertEqual(types.filter { $0 == HealthMonitor.degradationChangedTopic }.count, 3, "minimal, reduced, full: each once")
        XCTAssertEqual(types.filter { $0 == HealthMonitor.stateChangedTopic }.count, 2, "UNHEALTHY, then HEALTHY")

        // A person's override wins over health, and a new monitor on the same state directory
        // carries on: the same level is not said again.
        try DegradationState.setOverride(state, system: "api", to: DegradationOverride(system: "api", level: .emergency, by: "ops", reason: "drill", at: "now"))
        let next = HealthMonitor(file: file, probes: HealthProbes(), stateDirectory: state, clock: clock,
                                 bus: BusExecutor(transport: .outbox(path: outbox), clock: clock))
        snapshot = await next.round(all: true)
        XCTAssertEqual(snapshot.degradation.first?.level, .emergency)
        XCTAssertEqual(snapshot.degradation.first?.source, "override")
        XCTAssertEqual(events().compactMap { $0["type"] as? String }.filter { $0 == HealthMonitor.degradationChangedTopic }.count, 4)
        XCTAssertEqual((events().last?["data"] as? [String: String])?["by"], "ops")
    }

    /// §2.4: a component that turns DEGRADED gets its deep checks at once, not at their interval.
    func testAComponentTurningDegradedGetsItsDeepChecksRunAtOnce() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let ok = dir.appendingPathComponent("ok").path, deepRuns = dir.appendingPathComponent("deep-runs").path
        XCTAssertTrue(FileManager.default.createFile(atPath: ok, contents: nil))
        let file = HealthChecksFile(checks: [
            HealthCheckDefinition(name: "ping", tier: .shallow, component: "api", probe: .command("test -e '\(ok)'"), interval: 10, timeout: 10, retries: 0),
            HealthCheckDefinition(name: "deep", tier: .deep, component: "api", probe: .command("echo x >> '\(deepRuns)'"), interval: 3600, timeout: 10),
        ])
        let clock = ManualClock(start: start)
        let monitor = HealthMonitor(file: file, probes: HealthProbes(), stateDirectory: dir.appendingPathComponent("state").path, clock: clock, bus: nil)
        func deepCount() -> Int { ((try? String(contentsOfFile: deepRuns, encoding: .utf8)) ?? "").split(separator: "\n").count }
        _ = await monitor.round()
        XCTAssertEqual(deepCount(), 1)
        clock.advance(seconds: 10)
        _ = await monitor.round()
        XCTAssertEqual(deepCount(), 1, "an hour's interval: not due, and nothing calls for it")
        try FileManager.default.removeItem(atPath: ok)
        clock.advance(seconds: 10)
        let snapshot = await monitor.round()
        XCTAssertEqual(snapshot.state(of: "api"), .degraded)
        XCTAssertEqual(deepCount(), 2, "turning DEGRADED ran the deep check")
        clock.advance(seconds: 10)
        _ = await monitor.round()
        XCTAssertEqual(deepCount(), 2, "still DEGRADED: not again until its interval")
    }

    /// Process and metrics checks against this machine: this test's own process, one that has
    /// ended, and host metrics whose bounds always hold (or never do).
    func testProcessAndMetricChecksLookAtTheRealMachine() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        func run(_ probe: HealthCheckDefinition.Probe) async -> ProbeOutcome {
            await HealthProbes().run(HealthCheckDefinition(name: "c", tier: .deep, component: "host", probe: probe, timeout: 10, retries: 0))
        }
        let own = dir.appendingPathComponent("own.pid").path
        try "\(getpid())\n".write(toFile: own, atomically: true, encoding: .utf8)
        let alive = await run(.process(name: "tests", pidFile: own))
        XCTAssertTrue(alive.passed, alive.detail)
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let gone = dir.appendingPathComponent("gone.pid").path
        try "\(ended.processIdentifier)".write(toFile: gone, atomically: true, encoding: .utf8)
        let dead = await run(.process(name: "true", pidFile: gone))
        XCTAssertFalse(dead.passed, dead.detail)
        let missing = await run(.process(name: "x", pidFile: dir.appendingPathComponent("none.pid").path))
        XCTAssertTrue(missing.detail.contains("cannot read the pid file"), missing.detail)

        let comm = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        let byName = await run(.process(name: comm, pidFile: nil))
        XCTAssertTrue(byName.passed, byName.detail)
        let noName = await run(.process(name: "no-such-proc-x", pidFile: nil))
        XCTAssertFalse(noName.passed)

        func bound(_ key: String, _ text: String) throws -> HealthCheckDefinition.MetricBound {
            HealthCheckDefinition.MetricBound(key: key, metric: key, bound: try Bound.parse(text).get())
        }
        let holds = await run(.metrics([try bound("memory_available", ">1KB")]))
        XCTAssertTrue(holds.passed, holds.detail)
        let never = await run(.metrics([try bound("memory_available", ">1KB"), try bound("load1", "<0")]))
        XCTAssertFalse(never.passed)
        XCTAssertTrue(never.detail.hasPrefix("load1 is "), never.detail)
        let unknown = await run(.metrics([try bound("no_such_metric", "<1")]))
        XCTAssertFalse(unknown.passed)
        XCTAssertTrue(unknown.detail.contains("no metric source serves"), unknown.detail)
    }
}
