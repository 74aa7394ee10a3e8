import Foundation
import MedicModel

/// Runs the checks of a health checks file on their intervals, keeps each component's state,
/// the aggregate score and its trend, moves each system's degradation level, and says every
/// change on the bus: a check that starts failing (with its §2.4 failure action), a component
/// whose state changes, a system whose level in force changes. A state or level change the bus
/// refuses is tried again at the next round (the snapshot's `problems` say so).
///
/// Each round runs the checks that are due (`all`: every check); comprehensive checks only
/// while the feature `comprehensive_checks` is on for their component; a component that turns
/// DEGRADED gets its deep checks run in the same round, due or not (§2.4: "trigger deep checks"). The
/// results of the last round are saved in `<state>/health-checks/`, so that a later monitor (the
/// next `medic status --checks`) carries on from them: same history, no change said twice.
public actor HealthMonitor {
    public static let checkFailedTopic = "dev.medic.health.check_failed"
    public static let stateChangedTopic = "dev.medic.health.state_changed"
    public static let degradationChangedTopic = "dev.medic.degradation.changed"

    /// The checks in force; `replace(file:)` (SIGHUP in `medic serve`) puts another in force.
    public nonisolated var file: HealthChecksFile { inForce.value }
    private nonisolated let inForce: GuardLocked<HealthChecksFile>
    let probes: HealthProbes
    let stateDirectory: String
    let clock: any EngineClock
    /// Where changes are published (a `BusExecutor`); nil: nowhere.
    let bus: (any StepExecutor)?
    /// The latest snapshot, readable without waiting for a round.
    public nonisolated let latest = HealthSnapshotBox()

    private var lastRun: [String: Date] = [:]
    private var results: [String: CheckResult] = [:]
    private var history = ScoreHistory()
    private var previousStates: [String: ComponentState] = [:]
    private var previousLevels: [String: DegradationLevel] = [:]

    public init(file: HealthChecksFile, probes: HealthProbes, stateDirectory: String, clock: any EngineClock, bus: (any StepExecutor)?) {
        inForce = GuardLocked(file)
        self.probes = probes
        self.stateDirectory = stateDirectory
        self.clock = clock
        self.bus = bus
        if let saved = HealthSnapshot.load(stateDirectory) {
            let names = Set(file.checks.map(\.name))
            for result in saved.checks where names.contains(result.name) { results[result.name] = result }
            for component in saved.components { previousStates[component.component] = component.state }
            for system in saved.degradation { previousLevels[system.system] = system.level }
            latest.latest = saved
        }
        if let data = FileManager.default.contents(atPath: Self.historyPath(stateDirectory)),
           let saved = try? JSONDecoder().decode(ScoreHistory.self, from: data) {
            history = saved
        }
    }

    static func historyPath(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("health-checks/history.json")
    }

    /// Runs rounds until cancelled, one every `tick` seconds of the clock.
    public func run(tick: Double) async {
        while !Task.isCancelled {
            _ = await round()
            do { try await clock.sleep(seconds: tick) } catch { return }
        }
    }

    /// One round (above); returns its snapshot.
    @discardableResult
    public func round(all: Bool = false) async -> HealthSnapshot {
        let started = clock.now
        let file = self.file  // one file for the whole round, whatever a reload does meanwhile
        // A round that was running when the file was replaced may have put back a dropped check's result.
        let names = Set(file.checks.map(\.name))
        if results.keys.contains(where: { !names.contains($0) }) { results = results.filter { names.contains($0.key) } }
        var state = DegradationState.load(stateDirectory)
        state.features = file.degradation.features
        state.recoverAfter = file.degradation.recoverAfter
        let overrides = DegradationState.overrides(stateDirectory)
        let due = file.checks.filter { check in
            guard check.runs, all || lastRun[check.name].map({ started.timeIntervalSince($0) >= check.interval }) ?? true else { return false }
            guard check.tier == .comprehensive else { return true }
            let level = state.effective(check.component, overrides: overrides).level
            return DegradationFeatures.on(state.features, at: level)["comprehensive_checks"] ?? true
        }
        let before = Dictionary(currentComponents().map { ($0.component, $0.state) }, uniquingKeysWith: { first, _ in first })
        var failedNow = await runChecks(due, at: started)
        let degraded = Set(currentComponents().filter { $0.state == .degraded && before[$0.component] != .degraded }.map(\.component))
        let ran = Set(due.map(\.name))
        let deep = file.checks.filter { $0.runs && $0.tier == .deep && degraded.contains($0.component) && !ran.contains($0.name) }
        failedNow += await runChecks(deep, at: started)

        let now = clock.now
        let components = currentComponents()
        let score = HealthAssessment.score(Array(results.values))
        history.record(score, at: now)
        for component in components {
            state.levels.update(system: component.component, called: component.state.calledLevel, now: now, recoverAfter: state.recoverAfter)
        }
        var problems: [String] = []
        do { try state.save(stateDirectory) } catch { problems.append("\(error)") }
        let (effective, features) = HealthSnapshot.degradation(state, overrides: overrides)
        var snapshot = HealthSnapshot(
            checkedAt: JournalRecord.timestamp(now), score: score, trend: history.trend(now: now), components: components,
            checks: file.checks.compactMap { results[$0.name] },
            notRun: file.checks.compactMap { check in
                guard case .notRun(let reason) = check.probe else { return nil }
                return HealthSnapshot.NotRun(name: check.name, tier: check.tier, component: check.component, reason: reason)
            },
            degradation: effective, features: features, problems: [])
        problems += await publishChanges(failed: failedNow, snapshot: snapshot)
        snapshot.problems = problems
        save(snapshot)
        latest.latest = snapshot
        return snapshot
    }

    /// Puts `file` in force from the next round: the checks it keeps (by name) keep their last
    /// result and schedule, a check it changes runs at its next round as a new one would, and
    /// those it drops are forgotten (their components with them, unless another check has them).
    public func replace(file: HealthChecksFile) {
        let old = Dictionary(self.file.checks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let kept = Set(file.checks.filter { old[$0.name] == $0 }.map(\.name))
        results = results.filter { kept.contains($0.key) }
        lastRun = lastRun.filter { kept.contains($0.key) }
        inForce.value = file
    }

    private func currentComponents() -> [ComponentHealth] {
        HealthAssessment.components(Array(results.values), names: file.components)
    }

    /// Runs `checks` at once; returns those that fail now and passed (or had no result) before.
    private func runChecks(_ checks: [HealthCheckDefinition], at started: Date) async -> [CheckResult] {
        let probes = probes
        let outcomes = await withTaskGroup(of: (HealthCheckDefinition, ProbeOutcome).self) { group in
            for check in checks { group.addTask { (check, await probes.run(check)) } }
            var all: [(HealthCheckDefinition, ProbeOutcome)] = []
            for await pair in group { all.append(pair) }
            return all
        }
        let now = clock.now
        var failed: [CheckResult] = []
        for (check, outcome) in outcomes.sorted(by: { $0.0.name < $1.0.name }) {
            let result = CheckResult(check: check, outcome: outcome, at: now)
            if !result.passed && results[check.name]?.passed != false { failed.append(result) }
            results[check.name] = result
            lastRun[check.name] = started
        }
        return failed
    }

    private func publishChanges(failed: [CheckResult], snapshot: HealthSnapshot) async -> [String] {
        var problems: [String] = []
        for result in failed {
            if let problem = await send(Self.checkFailedTopic, result.name, [
                "check": result.name, "component": result.component, "tier": result.tier.rawValue, "action": result.failureAction.rawValue,
                "detail": result.detail, "attempts": String(result.attempts), "at": result.at,
            ]) { problems.append(problem) }
        }
        for component in snapshot.components where component.state != (previousStates[component.component] ?? .healthy) {
            if let problem = await send(Self.stateChangedTopic, component.component, [
                "component": component.component, "from": (previousStates[component.component] ?? .healthy).rawValue,
                "to": component.state.rawValue, "score": String(component.score), "failing": component.failing.joined(separator: ","),
                "action": Self.action(for: component.state), "at": snapshot.checkedAt,
            ]) { problems.append(problem) } else { previousStates[component.component] = component.state }
        }
        let off = snapshot.features.filter { !$0.on }.map(\.name).joined(separator: ",")
        for system in snapshot.degradation where system.level != (previousLevels[system.system] ?? .full) {
            var data = ["system": system.system, "from": (previousLevels[system.system] ?? .full).rawValue, "to": system.level.rawValue,
                        "source": system.source, "features_off": off, "at": snapshot.checkedAt]
            if let by = system.by { data["by"] = by }
            if let reason = system.reason { data["reason"] = reason }
            if let problem = await send(Self.degradationChangedTopic, system.system, data) {
                problems.append(problem)
            } else {
                previousLevels[system.system] = system.level
            }
        }
        return problems
    }

    /// Publishes one change; what went wrong, if anything.
    private func send(_ topic: String, _ subject: String, _ data: [String: String]) async -> String? {
        guard let bus else { return nil }
        let request = ExecutionRequest(runID: "health", stepNumber: 0, stepName: subject, action: "health_change", purpose: .escalation,
                                       executor: .bus, topic: topic, parameters: data, timeout: 30)
        do {
            let result = try await bus.execute(request)
            return result.succeeded ? nil : "\(topic) \(subject): \(result.summary)"
        } catch {
            return "\(topic) \(subject): \(error)"
        }
    }

    /// What §2.4 says a state calls for.
    static func action(for state: ComponentState) -> String {
        switch state {
        case .healthy: "none"
        case .degraded: "run deep checks"
        case .unhealthy: "remediate"
        case .critical: "escalate to humans"
        }
    }

    private func save(_ snapshot: HealthSnapshot) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try? StateFiles.writeAtomically(try encoder.encode(snapshot), to: HealthSnapshot.path(stateDirectory))
        let plain = JSONEncoder()
        try? StateFiles.writeAtomically(try plain.encode(history), to: Self.historyPath(stateDirectory))
    }
}
