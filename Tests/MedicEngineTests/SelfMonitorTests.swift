import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Self-monitoring (§10.4) over real state directories: incident records appended to the
/// knowledge base as runs append them, run journals written by real runs through the
/// interpreter, events read back from a JSONL outbox. Every check is asked at a chosen `now`.
final class SelfMonitorTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_900_000_000)

    private func stateDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    private static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// An incident record of a run that ended `ago` seconds before `now`, as the recorder writes it.
    private func record(_ outcome: IncidentRecord.RunOutcome, endedAgo ago: TimeInterval, playbook: String = "pb-001",
                        id: String = UUID().uuidString) -> IncidentRecord {
        let ended = now.addingTimeInterval(-ago)
        let started = ended.addingTimeInterval(-5)
        return IncidentRecord(
            incidentID: id, timestamp: Self.time(started), endedAt: Self.time(ended), runID: id, mode: .automated, runOutcome: outcome,
            detection: .init(method: .manual, detectionTime: Self.time(started)),
            classification: .init(affectedComponents: ["api"]),
            remediation: .init(playbookID: playbook, playbookVersion: "1.0.0", executionTime: 5, stepsExecuted: [],
                               outcome: outcome == .succeeded ? .success : outcome == .refused ? nil : .failed),
            impact: .init(duration: 5), resolution: .init(resolutionMethod: outcome == .succeeded ? .autoRemediation : .manual,
                                                          timeToResolution: nil, verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: false))
    }

    private func append(_ records: [IncidentRecord], in state: String) throws {
        let knowledgeBase = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        for record in records { _ = try knowledgeBase.append(encoding: record, to: .incidentHistory, durable: false) }
    }

    private func check(_ name: String, in report: HealthReport, file: StaticString = #filePath, line: UInt = #line) throws -> HealthCheckResult {
        try XCTUnwrap(report.checks.first { $0.name == name }, "no check \(name)", file: file, line: line)
    }

    /// The outbox's events, decoded: none when nothing was ever published (no file); a file that
    /// exists but cannot be read fails the test instead of passing for an empty outbox.
    private func events(_ outbox: String) throws -> [CloudEvent] {
        guard FileManager.default.fileExists(atPath: outbox) else { return [] }
        let text = try String(contentsOfFile: outbox, encoding: .utf8)
        return try text.split(separator: "\n").map { try CloudEvent.decode(structuredJSON: Data($0.utf8)) }
    }

    // MARK: - remediation_failure_spike

    func testSpikeWhenTwoOfThreeAttemptedRunsFailedInTheLast30Minutes() async throws {
        let state = stateDirectory()
        try append([record(.failed, endedAgo: 25 * 60), record(.succeeded, endedAgo: 10 * 60), record(.refused, endedAgo: 5 * 60),
                    record(.rolledBack, endedAgo: 60)], in: state)
        let alerts = await SelfMonitor(stateDirectory: state).check(now: now)
        let spike = try XCTUnwrap(alerts.first { $0.name == "remediation_failure_spike" })
        XCTAssertEqual(try XCTUnwrap(spike.value), 1.0 / 3.0, accuracy: 1e-9)
        XCTAssertEqual(spike.severity, .sev0)
        XCTAssertEqual(spike.notify, ["sre_team", "engineering_manager"])
        XCTAssertEqual(spike.action, "Investigate failing playbooks, consider disabling auto-remediation")
        XCTAssertEqual(spike.observed, "1 of 3 attempted runs succeeded in the last 30m (33.3%)")
        XCTAssertEqual(alerts.map(\.name), ["remediation_failure_spike"], "the refused run is not attempted; nothing else is wrong")
    }

    func testExactlySeventyPercentIsNoSpike() async throws {
        let state = stateDirectory()
        let successes: [IncidentRecord] = (1...7).map { record(.succeeded, endedAgo: Double($0) * 60) }
        let failures: [IncidentRecord] = (10...12).map { record(.failed, endedAgo: Double($0) * 60) }
        try append(successes + failures, in: state)
        let spike = try check("remediation_failure_spike", in: await SelfMonitor(stateDirectory: state).report(now: now))
        XCTAssertEqual(spike.verdict, .ok)
        XCTAssertEqual(try XCTUnwrap(spike.value), 0.7, accuracy: 1e-9)

        try append([record(.failed, endedAgo: 30)], in: state)  // 7 of 11: 63.6%
        let spikeReport = await SelfMonitor(stateDirectory: state).report(now: now)
        XCTAssertEqual(try check("remediation_failure_spike", in: spikeReport).verdict, .alert)
    }

    func testRecordsThatEndedBeforeTheWindowDoNotCount() async throws {
        let state = stateDirectory()
        let old: [IncidentRecord] = (1...5).map { record(.failed, endedAgo: 30 * 60 + Double($0)) }
        let recent: [IncidentRecord] = (1...3).map { record(.succeeded, endedAgo: Double($0) * 60) }
        try append(old + recent, in: state)
        let spike = try check("remediation_failure_spike", in: await SelfMonitor(stateDirectory: state).report(now: now))
        XCTAssertEqual(spike.verdict, .ok)
        XCTAssertEqual(spike.value, 1)
        XCTAssertEqual(spike.observed, "3 of 3 attempted runs succeeded in the last 30m (100.0%)")
    }

    func testFewerAttemptedRunsThanTheMinimumAreNotJudged() async throws {
        let state = stateDirectory()
        try append([record(.failed, endedAgo: 120), record(.escalated, endedAgo: 60), record(.refused, endedAgo: 30)], in: state)
        let spike = try check("remediation_failure_spike", in: await SelfMonitor(stateDirectory: state).report(now: now))
        XCTAssertEqual(spike.verdict, .ok)
        XCTAssertEqual(spike.value, 0)
        XCTAssertTrue(spike.observed.hasSuffix("fewer than 3 attempted runs: not judged"), spike.observed)

        let two = SelfMonitor(stateDirectory: state, configuration: .init(minimumAttemptedRuns: 2))
        let twoAlerts = await two.check(now: now)
        XCTAssertEqual(twoAlerts.map(\.name), ["remediation_failure_spike"])
    }

    /// 2,000 records over 5.5 hours (about 1.7 MB: many 64 KiB chunks read from the end), one
    /// line that is not a record near the end, and a torn last line: the window's records are
    /// counted exactly.
    func testTheWindowIsCountedExactlyAcrossChunksOfALongHistory() async throws {
        let state = stateDirectory()
        let records = (0..<2000).map { i -> IncidentRecord in
            let ago = Double(1999 - i) * 10  // one every 10 s, the newest 0 s ago
            return record(i % 4 == 0 ? .failed : .succeeded, endedAgo: ago)
        }
        try append(Array(records[..<1990]), in: state)
        let knowledgeBase = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        _ = try knowledgeBase.append(Array(#"{"not":"an incident"}"#.utf8), to: .incidentHistory)
        try append(Array(records[1990...]), in: state)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: knowledgeBase.path(.incidentHistory)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"v":1,"ended_at":"#.utf8))  // torn: a writer died here
        try handle.close()

        let report = await SelfMonitor(stateDirectory: state).report(now: now)
        // Ends within 30 min: ago 0 ... 1800 s, records 1819 ... 1999: 181 records, those with i % 4 == 0 failed.
        let window = (1819...1999)
        let failures = window.filter { $0 % 4 == 0 }.count
        let spike = try check("remediation_failure_spike", in: report)
        XCTAssertEqual(spike.observed, "\(window.count - failures) of \(window.count) attempted runs succeeded in the last 30m (75.1%)")
        XCTAssertEqual(report.problems.count, 1, "\(report.problems)")
        XCTAssertEqual(try check("knowledge_base_stale", in: report).value, 0)
    }

    /// The history is read from its end only as far as needed: lines at its start that are not
    /// records are never reached, so they are not reported.
    func testOnlyTheEndOfTheHistoryIsRead() async throws {
        let state = stateDirectory()
        let knowledgeBase = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        _ = try knowledgeBase.appendBatch((0..<1000).map { Array(#"{"early":\#($0)}"#.utf8) }, to: .incidentHistory)
        // One every 30 s over 3 hours: the checks look back 1 hour (false positives) plus the 1-hour
        // order tolerance, so the reader stops an hour before the oldest record.
        let records: [IncidentRecord] = (0..<360).map { record($0 % 2 == 0 ? .failed : .succeeded, endedAgo: Double(359 - $0) * 30) }
        try append(records, in: state)
        let report = await SelfMonitor(stateDirectory: state).report(now: now)
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(try check("remediation_failure_spike", in: report).observed, "31 of 61 attempted runs succeeded in the last 30m (50.8%)")

        // A file of nothing but old lines that are not records is read whole, and reported.
        let corrupt = stateDirectory()
        _ = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: corrupt))
            .appendBatch((0..<1000).map { Array(#"{"early":\#($0)}"#.utf8) }, to: .incidentHistory)
        let unreadable = await SelfMonitor(stateDirectory: corrupt).report(now: now)
        XCTAssertEqual(unreadable.problems.count, 1)
        XCTAssertTrue(unreadable.problems[0].hasSuffix("1000 lines near the end not readable as incident records; skipped"), "\(unreadable.problems)")
    }

    // MARK: - false_positive_surge

    /// A run an anomaly rule started (`detected`), denied by a person or not.
    private func watched(_ denied: Bool, endedAgo ago: TimeInterval) -> IncidentRecord {
        var r = record(denied ? .refused : .succeeded, endedAgo: ago)
        r.detection.method = .anomalyDetection
        r.metadata.denied = denied
        return r
    }

    func testFalsePositiveSurgeOverTwentyPercentOfDetectedIncidentsInTheLastHour() async throws {
        let state = stateDirectory()
        // In the hour: 4 detected, 1 denied (25%); a manual run does not count; 2 denied ones
        // ended 61 minutes ago, outside the window.
        try append([watched(true, endedAgo: 61 * 60), watched(true, endedAgo: 61 * 60),
                    watched(true, endedAgo: 50 * 60), watched(false, endedAgo: 40 * 60), watched(false, endedAgo: 20 * 60),
                    watched(false, endedAgo: 50), record(.succeeded, endedAgo: 30)], in: state)
        let alerts = await SelfMonitor(stateDirectory: state).check(now: now)
        let surge = try XCTUnwrap(alerts.first { $0.name == "false_positive_surge" })
        XCTAssertEqual(try XCTUnwrap(surge.value), 0.25, accuracy: 1e-12)
        XCTAssertEqual(surge.observed, "1 of 4 detected incidents denied in the last 1h (25.0%)")
        XCTAssertEqual(surge.severity, .sev2)
        XCTAssertEqual(surge.notify, ["sre_lead"])
        XCTAssertEqual(surge.action, "Adjust anomaly detection thresholds")
    }

    func testExactlyTwentyPercentOrTooFewDetectedIncidentsIsNoSurge() async throws {
        let state = stateDirectory()
        try append([watched(true, endedAgo: 600)] + (1...4).map { watched(false, endedAgo: Double($0) * 60) }, in: state)
        let fewAlerts = await SelfMonitor(stateDirectory: state).check(now: now)
        XCTAssertFalse(fewAlerts.contains { $0.name == "false_positive_surge" }, "1 of 5 is 20%")
        let few = stateDirectory()
        try append([watched(true, endedAgo: 600), watched(true, endedAgo: 60)], in: few)
        let report = await SelfMonitor(stateDirectory: few).report(now: now)
        XCTAssertEqual(try check("false_positive_surge", in: report).verdict, .ok)
        XCTAssertTrue(try check("false_positive_surge", in: report).observed.contains("not judged"))
    }

    // MARK: - knowledge_base_stale

    func testKnowledgeBaseIsStaleAfterSevenDaysAndOneSecond() async throws {
        let state = stateDirectory()
        try append([record(.succeeded, endedAgo: 7 * 86400 + 1)], in: state)
        let staleAlerts = await SelfMonitor(stateDirectory: state).check(now: now)
        let stale = try XCTUnwrap(staleAlerts.first)
        XCTAssertEqual(stale.name, "knowledge_base_stale")
        XCTAssertEqual(stale.severity, .sev3)
        XCTAssertEqual(stale.notify, ["sre_lead"])
        XCTAssertEqual(stale.action, "Verify learning pipeline is functioning")
        XCTAssertEqual(stale.value, 7 * 86400 + 1)
        XCTAssertTrue(stale.observed.hasSuffix("(7d 1s ago)"), stale.observed)

        let fresh = stateDirectory()
        try append([record(.succeeded, endedAgo: 8 * 86400), record(.failed, endedAgo: 6 * 86400)], in: fresh)
        let check = try check("knowledge_base_stale", in: await SelfMonitor(stateDirectory: fresh).report(now: now))
        XCTAssertEqual(check.verdict, .ok)
        XCTAssertEqual(check.value, 6 * 86400)
    }

    func testAnEmptyStateDirectoryIsNotYetStartedAndHealthy() async throws {
        let state = stateDirectory()
        let report = await SelfMonitor(stateDirectory: state).report(now: now)
        XCTAssertTrue(report.healthy)
        XCTAssertEqual(report.checks.map(\.verdict), [.ok, .ok, .ok, .ok])
        XCTAssertEqual(try check("knowledge_base_stale", in: report).observed, "not yet started: no incident record and no finished run")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state), "a check creates nothing")
    }

    // MARK: - playbook_circuit_breaker_tripped (real runs)

    private static let actions = """
        actions:
          plain:
            type: infrastructure
            risk_level: low
            implementation: "true"
        """

    private static let playbook = """
        playbook_id: flaky-001
        name: Flaky
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: a, action: plain}
        metadata: {}
        """

    /// Runs of flaky-001 through the interpreter, one a minute on `clock`; each step fails or
    /// succeeds as `pattern` says (F / S). Each run also appends its incident record.
    private func run(_ pattern: String, in store: RunStore, clock: ManualClock) async throws {
        let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(Self.actions.utf8)), ("playbooks/p.yaml", Array(Self.playbook.utf8))])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        let plan = try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
        for mark in pattern {
            clock.advance(seconds: 60)
            let succeed = mark == "S"
            let shell = RecordingExecutor { _ in ExecutionResult(succeeded: succeed, exitStatus: succeed ? 0 : 3, summary: "exit") }
            let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                          verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                          clock: clock)
            var plan = plan
            plan.gates = []
            _ = try await interpreter.start(plan, in: store, seed: 1)
        }
    }

    func testAnOpenBreakerRaisesOneAlertForItsPlaybook() async throws {
        let state = stateDirectory()
        let store = try RunStore(directory: state)
        let clock = ManualClock(start: now.addingTimeInterval(-600))
        try await run("SFFF", in: store, clock: clock)
        let monitor = SelfMonitor(stateDirectory: state)

        let report = await monitor.report(now: clock.now)
        let tripped = try check("playbook_circuit_breaker_tripped", in: report)
        XCTAssertEqual(tripped.verdict, .alert)
        XCTAssertEqual(tripped.observed, "open: flaky-001")
        let alert = try XCTUnwrap(tripped.alerts.first)
        XCTAssertEqual(tripped.alerts.count, 1)
        XCTAssertEqual(alert.key, "playbook_circuit_breaker_tripped:flaky-001")
        XCTAssertEqual(alert.playbookID, "flaky-001")
        XCTAssertEqual(alert.severity, .sev1)
        XCTAssertEqual(alert.notify, ["sre_team"])
        XCTAssertEqual(alert.action, "Manual review required before re-enabling")
        XCTAssertTrue(alert.observed.contains("3 consecutive failures"), alert.observed)
        // The same runs' incident records: 1 of 4 succeeded within 30 minutes.
        XCTAssertEqual(try check("remediation_failure_spike", in: report).value, 0.25)

        // An hour after the last failure the breaker half-opens: a trial run may go, the playbook is not disabled.
        let later = await monitor.report(now: clock.now.addingTimeInterval(3601))
        XCTAssertEqual(try check("playbook_circuit_breaker_tripped", in: later).verdict, .ok)
        XCTAssertEqual(try check("remediation_failure_spike", in: later).verdict, .ok, "the failures left the 30-minute window")
    }

    // MARK: - Publishing: the escalation path, once per change

    func testAnAlertIsPublishedOnceAndItsClearingOnce() async throws {
        let state = stateDirectory()
        let outbox = state + "/outbox.jsonl"
        let bus = BusExecutor(transport: .outbox(path: outbox))
        try append([record(.failed, endedAgo: 300), record(.failed, endedAgo: 200), record(.succeeded, endedAgo: 100)], in: state)
        let monitor = SelfMonitor(stateDirectory: state)

        let first = try await monitor.evaluateAndPublish(now: now, bus: bus)
        XCTAssertEqual(first.published.map(\.type), ["dev.medic.health.alert"])
        let second = try await monitor.evaluateAndPublish(now: now.addingTimeInterval(60), bus: bus)
        XCTAssertEqual(second.published, [], "still raised: not published again")
        XCTAssertEqual(second.alreadyRaised, ["remediation_failure_spike"])
        XCTAssertEqual(try events(outbox).count, 1)
        XCTAssertEqual(Array(monitor.raisedAlerts().keys), ["remediation_failure_spike"])

        let alert = try XCTUnwrap(try events(outbox).first)
        XCTAssertEqual(alert.type, "dev.medic.health.alert")
        XCTAssertEqual(alert.source, "medic/runs/health")
        XCTAssertEqual(alert.subject, "remediation_failure_spike")
        XCTAssertEqual(alert.data["alert"], "remediation_failure_spike")
        XCTAssertEqual(alert.data["severity"], "critical")
        XCTAssertEqual(alert.data["notify"], "sre_team,engineering_manager")
        XCTAssertEqual(alert.data["action"], "Investigate failing playbooks, consider disabling auto-remediation")
        XCTAssertEqual(alert.data["value"], "0.333")
        XCTAssertEqual(alert.data["condition"], "remediation success rate < 70.0% over the last 30m (at least 3 attempted runs)")
        XCTAssertEqual(alert.data["observed"], "1 of 3 attempted runs succeeded in the last 30m (33.3%)")
        XCTAssertNil(alert.data["escalation_policy"])
        XCTAssertEqual(alert.id, first.published.first?.eventID)

        // Successes bring the rate to 5 of 7 = 71.4%: the alert clears, once.
        try append([record(.succeeded, endedAgo: 50), record(.succeeded, endedAgo: 40), record(.succeeded, endedAgo: 30),
                    record(.succeeded, endedAgo: 20)], in: state)
        let cleared = try await monitor.evaluateAndPublish(now: now.addingTimeInterval(60), bus: bus)
        XCTAssertTrue(cleared.report.healthy)
        XCTAssertEqual(cleared.published.map(\.type), ["dev.medic.health.resolved"])
        let again = try await monitor.evaluateAndPublish(now: now.addingTimeInterval(120), bus: bus)
        XCTAssertEqual(again.published, [])

        let all = try events(outbox)
        XCTAssertEqual(all.map(\.type), ["dev.medic.health.alert", "dev.medic.health.resolved"])
        guard all.count == 2 else { return }
        XCTAssertEqual(all[1].data["alert"], "remediation_failure_spike")
        XCTAssertEqual(all[1].data["raised_at"], Self.time(now))
        XCTAssertEqual(all[1].data["resolved_at"], Self.time(now.addingTimeInterval(60)))
        XCTAssertEqual(monitor.raisedAlerts(), [:])
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/health/alerts.json"))
        let history = try String(contentsOfFile: state + "/health/alerts.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(history.count, 2)
        XCTAssertTrue(history[0].contains(#""event":"raised""#) && history[1].contains(#""event":"resolved""#), "\(history)")
    }

    func testAnEscalationPolicyForTheSeverityAddsItsFirstLevel() async throws {
        let policies = """
            escalation_policies:
              self_monitoring:
                name: "Medic itself"
                applies_to: [critical]
                escalation_chain:
                  - {level: 1, delay: 0m, notify: on_call_sre, method: pagerduty}
                  - {level: 2, delay: 5m, notify: head_of_sre, method: phone_call}
              components:
                name: "Services"
                applies_to: [api_services]
                escalation_chain:
                  - {level: 1, delay: 0m, notify: on_call_engineer, method: pagerduty}
            """
        let loaded = CatalogLoader().load(documents: [("policies/escalation.yaml", Array(policies.utf8))])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let state = stateDirectory()
        try append([record(.failed, endedAgo: 300), record(.failed, endedAgo: 200), record(.failed, endedAgo: 100),
                    record(.succeeded, endedAgo: 8 * 86400)], in: state)
        let outbox = state + "/outbox.jsonl"
        let monitor = SelfMonitor(stateDirectory: state, escalationPolicies: loaded.catalog.policies.escalationPolicies)
        _ = try await monitor.evaluateAndPublish(now: now, bus: BusExecutor(transport: .outbox(path: outbox)))
        let events = try events(outbox)
        XCTAssertEqual(events.map { $0.data["alert"] ?? "" }, ["remediation_failure_spike"],
                       "the stale check sees the newest record, 100 s old, so only the spike is raised")
        XCTAssertEqual(events.first?.data["escalation_policy"], "self_monitoring")
        XCTAssertEqual(events.first?.data["escalation_notify"], "on_call_sre")
    }

    /// A check that cannot be decided neither raises nor clears: the spike raised before stays raised.
    func testAnUnreadableHistoryDoesNotClearARaisedAlert() async throws {
        let state = stateDirectory()
        let outbox = state + "/outbox.jsonl"
        let bus = BusExecutor(transport: .outbox(path: outbox))
        try append([record(.failed, endedAgo: 300), record(.failed, endedAgo: 200), record(.failed, endedAgo: 100)], in: state)
        let monitor = SelfMonitor(stateDirectory: state)
        _ = try await monitor.evaluateAndPublish(now: now, bus: bus)

        let history = KnowledgeBase.defaultDirectory(inState: state) + "/incident-history.jsonl"
        try FileManager.default.removeItem(atPath: history)
        try FileManager.default.createDirectory(atPath: history, withIntermediateDirectories: false)  // read(2) fails: EISDIR
        let evaluation = try await monitor.evaluateAndPublish(now: now.addingTimeInterval(60), bus: bus)
        XCTAssertEqual(try check("remediation_failure_spike", in: evaluation.report).verdict, .unknown)
        XCTAssertEqual(try check("knowledge_base_stale", in: evaluation.report).verdict, .unknown)
        XCTAssertEqual(evaluation.published, [])
        XCTAssertEqual(Array(monitor.raisedAlerts().keys), ["remediation_failure_spike"])
        XCTAssertEqual(try events(outbox).count, 1)
    }

    /// Another evaluation holding the lock: this one publishes nothing, and says so.
    func testAnEvaluationThatFindsTheLockHeldPublishesNothing() async throws {
        let state = stateDirectory()
        let outbox = state + "/outbox.jsonl"
        try append([record(.failed, endedAgo: 300), record(.failed, endedAgo: 200), record(.failed, endedAgo: 100)], in: state)
        try FileManager.default.createDirectory(atPath: state + "/health", withIntermediateDirectories: true)
        let fd = open(state + "/health/alerts.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        let monitor = SelfMonitor(stateDirectory: state)
        let busy = try await monitor.evaluateAndPublish(now: now, bus: BusExecutor(transport: .outbox(path: outbox)))
        XCTAssertTrue(busy.skippedBusy)
        XCTAssertEqual(busy.report.alerts.map(\.name), ["remediation_failure_spike"])
        XCTAssertEqual(try events(outbox).count, 0)
        close(fd)
        let free = try await monitor.evaluateAndPublish(now: now, bus: BusExecutor(transport: .outbox(path: outbox)))
        XCTAssertFalse(free.skippedBusy)
        XCTAssertEqual(try events(outbox).count, 1)
    }

    /// A bus that answers with a failure: nothing is marked raised, so the next evaluation tries again.
    func testAnAlertTheBusRefusedIsPublishedAtTheNextEvaluation() async throws {
        let state = stateDirectory()
        try append([record(.failed, endedAgo: 300), record(.failed, endedAgo: 200), record(.failed, endedAgo: 100)], in: state)
        let monitor = SelfMonitor(stateDirectory: state)
        let refusing = RecordingExecutor { _ in ExecutionResult(succeeded: false, exitStatus: 503, summary: "webhook answered HTTP 503") }
        let refused = try await monitor.evaluateAndPublish(now: now, bus: refusing)
        XCTAssertEqual(refused.published, [])
        XCTAssertEqual(refused.failures, ["remediation_failure_spike: webhook answered HTTP 503"])
        XCTAssertEqual(monitor.raisedAlerts(), [:])

        let outbox = state + "/outbox.jsonl"
        let retried = try await monitor.evaluateAndPublish(now: now.addingTimeInterval(60), bus: BusExecutor(transport: .outbox(path: outbox)))
        XCTAssertEqual(retried.published.map(\.key), ["remediation_failure_spike"])
        XCTAssertEqual(try events(outbox).count, 1)
    }
}
