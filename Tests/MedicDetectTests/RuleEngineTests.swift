import MedicDetect
import MedicLoader
import MedicModel
import XCTest

final class RuleEngineTests: XCTestCase {
    // MARK: Helpers

    /// Rules as a user writes them, through the loader.
    private func rules(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws -> [AnomalyRule] {
        let loaded = CatalogLoader(threads: 1).load(documents: [("rules.yaml", Array(yaml.utf8))])
        // The playbooks the rules name are not loaded here (M310); anything else is a mistake in the test.
        let errors = loaded.diagnostics.filter { $0.severity == .error && !$0.message.contains("which is not loaded") }
        XCTAssertEqual(errors.map(\.message), [], file: file, line: line)
        return loaded.catalog.rules
    }

    private func rule(_ name: String, _ selector: MetricSelector, _ detector: DetectorSpec = .threshold(op: .greater, value: .number(85)),
                      for sustain: Double? = nil, cooldown: Double? = nil, groupBy: [String] = [], playbook: String? = nil,
                      parametersFromLabels: [String: String] = [:]) -> AnomalyRule {
        AnomalyRule(name: name, metric: selector, detector: detector, sustain: sustain.map { Interval(seconds: $0) }, severity: .sev2,
                    playbook: playbook, parametersFromLabels: parametersFromLabels, cooldown: cooldown.map { Interval(seconds: $0) },
                    groupBy: groupBy, location: SourceLocation(file: "rules.yaml"))
    }

    private func trigger(_ condition: String, for duration: Double? = nil, playbook: String = "pb-001") throws -> PlaybookTrigger {
        let parsed = try Condition.parse(condition).get()
        return PlaybookTrigger(playbookID: playbook, trigger: Trigger(condition: parsed, duration: duration.map { Interval(seconds: $0) }),
                               severity: .sev1)
    }

    private func disk(_ labels: [String: String], _ time: Double, _ value: Double) -> Sample {
        Sample(metric: "disk_usage_percent", labels: labels, time: time, value: value)
    }

    /// A sample of host a.
    private func disk(_ time: Double, _ value: Double) -> Sample { disk(["host": "a"], time, value) }

    /// Feeds samples and returns every event, in order.
    private func run(_ engine: inout RuleEngine, _ samples: [Sample]) -> [RuleEvent] {
        samples.flatMap { engine.ingest($0) }
    }

    private func incidents(_ events: [RuleEvent]) -> [Incident] {
        events.compactMap { if case .firing(let i) = $0 { i } else { nil } }
    }

    private func resolved(_ events: [RuleEvent]) -> [Incident] {
        events.compactMap { if case .resolved(let i) = $0 { i } else { nil } }
    }

    private func suppressions(_ events: [RuleEvent]) -> [Suppression] {
        events.compactMap { if case .suppressed(let s) = $0 { s } else { nil } }
    }

    private let selector = MetricSelector(name: "disk_usage_percent")

    // MARK: Matching

    func testLabelMatchersSelectSeriesLikePrometheus() {
        let matchers: [MetricSelector.LabelMatcher] = [
            .init(label: "path", op: .equal, value: "/var"),
            .init(label: "mode", op: .notEqual, value: "ro"),
            .init(label: "host", op: .matches, value: "web-[0-9]+"),
            .init(label: "env", op: .notMatches, value: "dev|test"),
        ]
        var engine = RuleEngine(rules: [rule("r", MetricSelector(name: "disk_usage_percent", matchers: matchers))])
        let cases: [([String: String], Bool)] = [
            (["path": "/var", "host": "web-1"], true),                     // mode, env missing: "" != ro, "" !~ dev|test
            (["path": "/var", "host": "web-12", "env": "prod", "mode": "rw"], true),
            (["path": "/var", "host": "web-1", "mode": "ro"], false),      // !=
            (["path": "/", "host": "web-1"], false),                       // =
            (["path": "/var", "host": "web-1x"], false),                   // =~ is anchored at the end
            (["path": "/var", "host": "xweb-1"], false),                   // ... and at the start
            (["path": "/var", "host": "web-1\n"], false),                  // no match before a final line break
            (["path": "/var", "host": "web-1", "env": "test"], false),     // !~
            (["path": "/var", "host": "web-1", "env": "testing"], true),   // !~ is anchored too
        ]
        for (index, (labels, selected)) in cases.enumerated() {
            let events = engine.ingest(disk(labels, Double(index), 99))
            XCTAssertEqual(!incidents(events).isEmpty, selected, "\(labels)")
        }
        XCTAssertEqual(engine.statistics[0].series, 3)
        // Another metric is never selected, whatever its labels.
        XCTAssertEqual(engine.ingest(Sample(metric: "disk_used", labels: ["path": "/var", "host": "web-1"], time: 100, value: 99)), [])
    }

    func testAMissingLabelIsTheEmptyString() {
        let selector = MetricSelector(name: "up", matchers: [.init(label: "job", op: .equal, value: "")])
        var engine = RuleEngine(rules: [rule("r", selector, .threshold(op: .equal, value: .number(0)))])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "up", time: 0, value: 0))).count, 1)
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "up", labels: ["job": "node"], time: 0, value: 0))).count, 0)
    }

    func testARegularExpressionThatDoesNotCompileRejectsTheRule() {
        let bad = MetricSelector(name: "up", matchers: [.init(label: "job", op: .matches, value: "(unclosed")])
        let engine = RuleEngine(rules: [rule("broken", bad), rule("fine", selector)])
        XCTAssertEqual(engine.rejected.map(\.rule), ["broken"])
        XCTAssertTrue(engine.rejected[0].reason.contains("does not compile"), engine.rejected[0].reason)
        XCTAssertEqual(engine.statistics.map(\.rule), ["fine"])
    }

    func testASecondRuleOfOneNameIsRejected() {
        let engine = RuleEngine(rules: [rule("same", selector), rule("same", selector)])
        XCTAssertEqual(engine.rejected.map(\.reason), ["a rule of this name is already loaded"])
        XCTAssertEqual(engine.statistics.count, 1)
    }

    // MARK: for

    func testForGoesPendingThenFiringOnSampleTimestamps() throws {
        let loaded = try rules("""
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                labels: {path: /var}
                detector: threshold
                params: {op: ">", value: 85}
                for: 5m
                severity: SEV2
                playbook: disk-space-cleanup-001
            """)
        var engine = RuleEngine(rules: loaded)
        let labels = ["path": "/var", "host": "a"]
        // Samples a minute apart, replayed in an instant: time is the samples'.
        XCTAssertEqual(engine.ingest(disk(labels, 1000, 80)), [])
        let pending = engine.ingest(disk(labels, 1060, 90))
        guard case .pending(let p) = pending.first, pending.count == 1 else { return XCTFail("\(pending)") }
        XCTAssertEqual(p.since, 1060)
        XCTAssertEqual(p.incidentKey, #"disk_usage_percent{host="a",path="/var"}"#)
        for t in stride(from: 1120.0, through: 1300, by: 60) {
            XCTAssertEqual(engine.ingest(disk(labels, t, 91)), [], "still pending at \(t): 5m is not over, and pending is said once")
        }
        let fired = incidents(engine.ingest(disk(labels, 1360, 97)))
        XCTAssertEqual(fired.count, 1)
        let incident = try XCTUnwrap(fired.first)
        XCTAssertEqual(incident.rule, "disk-filling")
        XCTAssertEqual(incident.firstSeen, 1060)
        XCTAssertEqual(incident.firedAt, 1360)
        XCTAssertEqual(incident.value, 97)
        XCTAssertEqual(incident.score, 0.5 + 0.5 * 12 / 97, accuracy: 1e-12)
        XCTAssertEqual(incident.severity, .sev2)
        XCTAssertEqual(incident.playbook, "disk-space-cleanup-001")
        XCTAssertEqual(incident.seriesKey, #"disk_usage_percent{host="a",path="/var"}"#)
        XCTAssertEqual(incident.labels, labels)
        XCTAssertEqual(engine.activeIncidents.map(\.incidentKey), [incident.incidentKey])
    }

    func testANormalSampleResetsAPendingAnomaly() {
        var engine = RuleEngine(rules: [rule("r", selector, for: 300)])
        _ = run(&engine, [disk(0, 90), disk(200, 90), disk(250, 80)])
        // 90 again at 300: a new episode, pending since 300, not firing at 300 − 0.
        let events = run(&engine, [disk(300, 90), disk(590, 90)])
        XCTAssertEqual(incidents(events), [])
        XCTAssertEqual(engine.statistics[0].pending, 2)
        XCTAssertEqual(incidents(engine.ingest(disk(600, 90))).map(\.firstSeen), [300])
    }

    // MARK: Resolution, cooldown, grouping

    func testResolvesOnceEverySeriesOfTheKeyHasBeenNormalForResolveAfter() throws {
        var engine = RuleEngine(rules: [rule("r", selector)], configuration: .init(resolveAfter: 120))
        XCTAssertEqual(incidents(run(&engine, [disk(0, 90), disk(60, 95)])).count, 1)
        XCTAssertEqual(run(&engine, [disk(120, 50), disk(180, 50)]), [], "normal for 60 s: not resolved yet")
        let events = engine.ingest(disk(240, 50))
        let incident = try XCTUnwrap(resolved(events).first)
        XCTAssertEqual(incident.resolvedAt, 120, "resolved at the recovery, said once resolveAfter has passed")
        XCTAssertEqual(incident.firstSeen, 0)
        XCTAssertEqual(incident.peakValue, 95)
        XCTAssertEqual(incident.lastValue, 95)
        XCTAssertEqual(incident.lastSeen, 60)
        XCTAssertEqual(engine.activeIncidents, [])
        XCTAssertEqual(engine.statistics[0].resolved, 1)
    }

    func testResolveAfterZeroResolvesOnTheFirstNormalSample() {
        var engine = RuleEngine(rules: [rule("r", selector)], configuration: .init(resolveAfter: 0))
        _ = engine.ingest(disk(0, 90))
        XCTAssertEqual(resolved(engine.ingest(disk(10, 50))).map(\.resolvedAt), [10])
    }

    func testTimeFromAnyMetricOrAdvanceResolvesAQuietIncident() {
        var engine = RuleEngine(rules: [rule("r", selector)], configuration: .init(resolveAfter: 300))
        _ = run(&engine, [disk(0, 90), disk(60, 50)])
        // Another metric's sample moves time on too.
        XCTAssertEqual(resolved(engine.ingest(Sample(metric: "other", time: 359, value: 1))), [])
        XCTAssertEqual(resolved(engine.ingest(Sample(metric: "other", time: 360, value: 1))).map(\.resolvedAt), [60])
        // advance(to:) for a feed that has gone quiet.
        _ = run(&engine, [disk(["host": "b"], 400, 90), disk(["host": "b"], 410, 50)])
        XCTAssertEqual(engine.advance(to: 500), [])
        XCTAssertEqual(resolved(engine.advance(to: .infinity)).map(\.resolvedAt), [410])
        XCTAssertEqual(engine.advance(to: .nan), [])
    }

    func testAFlappingSeriesStartsOneIncidentNotFifty() throws {
        var engine = RuleEngine(rules: [rule("r", selector)], configuration: .init(resolveAfter: 300))
        var samples: [Sample] = []
        for flap in 0..<50 {
            samples.append(disk(Double(flap) * 120, 95))
            samples.append(disk(Double(flap) * 120 + 60, 40))
        }
        let events = run(&engine, samples)
        XCTAssertEqual(incidents(events).count, 1)
        XCTAssertEqual(suppressions(events).count, 49)
        XCTAssertTrue(suppressions(events).allSatisfy { $0.reason == .alreadyFiring })
        XCTAssertEqual(resolved(events), [], "never normal for 5 minutes")
        let active = try XCTUnwrap(engine.activeIncidents.first)
        XCTAssertEqual(active.firings, 50)
        XCTAssertEqual(active.firedAt, 0)
        XCTAssertEqual(active.lastSeen, 49 * 120)
        let end = resolved(engine.advance(to: .infinity))
        XCTAssertEqual(end.map(\.firings), [50])
        XCTAssertEqual(end.map(\.resolvedAt), [49 * 120 + 60])
        XCTAssertEqual(engine.statistics[0].incidents, 1)
        XCTAssertEqual(engine.statistics[0].foldedFirings, 49)
    }

    func testCooldownSuppressesANewIncidentUntilItHasPassedOnSampleTime() throws {
        var engine = RuleEngine(rules: [rule("r", selector, cooldown: 1800)], configuration: .init(resolveAfter: 0))
        XCTAssertEqual(incidents(run(&engine, [disk(0, 90)])).count, 1)
        XCTAssertEqual(resolved(run(&engine, [disk(60, 50)])).map(\.resolvedAt), [60])
        let during = run(&engine, [disk(600, 90), disk(660, 91), disk(1200, 92)])
        XCTAssertEqual(incidents(during), [])
        XCTAssertEqual(suppressions(during).map(\.reason), [.cooldown(until: 1860)], "said once, when the series starts firing")
        // Still firing when the cooldown ends: the next incident opens then, from the episode's start.
        let after = try XCTUnwrap(incidents(run(&engine, [disk(1859, 93), disk(1860, 94)])).first)
        XCTAssertEqual(after.firedAt, 1860)
        XCTAssertEqual(after.firstSeen, 600)
        XCTAssertEqual(engine.statistics[0].suppressedByCooldown, 1)
        XCTAssertEqual(engine.statistics[0].incidents, 2)
    }

    func testGroupByMakesOneIncidentPerGroupAndFoldsTheGroupsSeries() throws {
        var engine = RuleEngine(rules: [rule("disk-filling", selector, groupBy: ["service"])], configuration: .init(resolveAfter: 60))
        let events = run(&engine, [
            disk(["service": "web", "host": "a"], 0, 90),
            disk(["service": "web", "host": "b"], 1, 91),
            disk(["service": "db", "host": "c"], 2, 92),
            disk(["host": "d"], 3, 93),
        ])
        XCTAssertEqual(incidents(events).map(\.incidentKey),
                       [#"disk-filling{service="web"}"#, #"disk-filling{service="db"}"#, #"disk-filling{service=""}"#])
        XCTAssertEqual(suppressions(events).map(\.seriesKey), [#"disk_usage_percent{host="b",service="web"}"#])
        // The web incident stays while one of its series fires.
        let partly = run(&engine, [
            disk(["service": "web", "host": "a"], 100, 50), disk(["service": "db", "host": "c"], 100, 50), disk(["host": "d"], 100, 50),
            disk(["service": "web", "host": "a"], 200, 50),
        ])
        XCTAssertEqual(resolved(partly).map(\.incidentKey), [#"disk-filling{service="db"}"#, #"disk-filling{service=""}"#])
        XCTAssertEqual(resolved(partly).map(\.resolvedAt), [100, 100])
        XCTAssertEqual(engine.activeIncidents.map(\.incidentKey), [#"disk-filling{service="web"}"#])
        let web = try XCTUnwrap(engine.activeIncidents.first)
        XCTAssertEqual(web.firings, 2)
        XCTAssertEqual(web.peakValue, 91)
        _ = engine.ingest(disk(["service": "web", "host": "b"], 210, 50))
        XCTAssertEqual(resolved(engine.advance(to: 270)).map(\.resolvedAt), [210])
    }

    func testParametersComeFromTheRuleAndFromLabels() throws {
        let loaded = try rules("""
            rules:
              - name: web-error-spike
                metric: http_error_rate
                detector: threshold
                params: {op: ">", value: 5}
                severity: SEV1
                playbook: web-service-recovery
                parameters:
                  namespace: web-prod
                  paths: [/var, /tmp]
                  service_name: fallback
                parameters_from_labels:
                  service_name: service
                  region: region
            """)
        var engine = RuleEngine(rules: loaded)
        let incident = try XCTUnwrap(incidents(engine.ingest(Sample(metric: "http_error_rate", labels: ["service": "checkout"], time: 0, value: 9))).first)
        XCTAssertEqual(incident.parameters, [
            "namespace": .scalar("web-prod", quoted: false),
            "paths": .list([.scalar("/var", quoted: false), .scalar("/tmp", quoted: false)]),
            "service_name": .scalar("checkout", quoted: false),  // the label wins over the fixed value
        ], "region: the series has no such label, so no parameter")
        XCTAssertEqual(incident.playbook, "web-service-recovery")
    }

    func testTwoRulesOnOneMetricEachSeeEverySample() {
        var engine = RuleEngine(rules: [rule("high", selector), rule("very-high", selector, .threshold(op: .greater, value: .number(95)))])
        XCTAssertEqual(incidents(engine.ingest(disk(0, 90))).map(\.rule), ["high"])
        XCTAssertEqual(incidents(engine.ingest(disk(1, 99))).map(\.rule), ["very-high"])
        XCTAssertEqual(engine.statistics.map(\.samples), [2, 2])
    }

    // MARK: Playbook triggers

    func testASimpleTriggerConditionIsAThresholdRuleWithItsDuration() throws {
        let t = try trigger(#"disk_usage_percent{volume_role="scratch"} > 90"#, for: 300, playbook: "disk-space-cleanup-002")
        let rule = try XCTUnwrap(try t.thresholdRule().get())
        XCTAssertEqual(rule.name, "trigger:disk-space-cleanup-002")
        XCTAssertEqual(rule.detector, .threshold(op: .greater, value: .number(90)))
        XCTAssertEqual(rule.sustain, Interval(seconds: 300))
        XCTAssertEqual(rule.metric.matchers.map(\.value), ["scratch"])
        var engine = RuleEngine(rules: [], triggers: [t])
        let labels = ["volume_role": "scratch", "host": "a"]
        XCTAssertEqual(incidents(run(&engine, [disk(labels, 0, 95), disk(labels, 299, 95)])), [])
        let incident = try XCTUnwrap(incidents(engine.ingest(disk(labels, 300, 95))).first)
        XCTAssertEqual(incident.rule, "trigger:disk-space-cleanup-002")
        XCTAssertEqual(incident.playbook, "disk-space-cleanup-002")
        XCTAssertEqual(incident.severity, .sev1)
        XCTAssertEqual(incident.firstSeen, 0)
        XCTAssertEqual(engine.statistics[0].origin, .trigger)
    }

    func testARuleNamingAPlaybookReplacesThatPlaybooksTrigger() throws {
        // The shipped pair: rule root-disk-filling {path="/"} and disk-space-cleanup-001's own
        // trigger `disk_usage_percent > 85`, both for 5 minutes. One fault: one incident.
        let explicit = rule("root-disk-filling", MetricSelector(name: "disk_usage_percent", matchers: [.init(label: "path", op: .equal, value: "/")]),
                            for: 300, groupBy: ["host"], playbook: "disk-space-cleanup-001")
        var listed = rule("either", MetricSelector(name: "queue_depth"), playbook: "drain-001")
        listed.alternatives = ["scale-001"]
        var engine = RuleEngine(rules: [explicit, listed], triggers: [
            try trigger("disk_usage_percent > 85", for: 300, playbook: "disk-space-cleanup-001"),
            try trigger("queue_depth > 5", playbook: "scale-001"),
            try trigger("cpu_percent > 90", playbook: "other-001"),
        ])
        XCTAssertEqual(engine.replacedTriggers.map(\.rule), ["trigger:disk-space-cleanup-001", "trigger:scale-001"])
        XCTAssertTrue(engine.replacedTriggers.first?.reason.contains("rule root-disk-filling names playbook disk-space-cleanup-001") == true,
                      "\(engine.replacedTriggers)")
        XCTAssertEqual(engine.statistics.map(\.rule), ["root-disk-filling", "either", "trigger:other-001"], "a playbook no rule names keeps its trigger")
        XCTAssertEqual(engine.rejected, [])
        let root = ["host": "a", "path": "/"]
        let events = run(&engine, [disk(root, 0, 95), disk(root, 150, 95), disk(root, 300, 95), disk(root, 360, 96)])
        XCTAssertEqual(incidents(events).map(\.rule), ["root-disk-filling"], "one fault, one incident")
        // A rule the engine rejects replaces nothing: the trigger still watches.
        let broken = rule("broken", MetricSelector(name: "disk_usage_percent", matchers: [.init(label: "path", op: .matches, value: "(")]),
                          playbook: "disk-space-cleanup-001")
        let fallback = RuleEngine(rules: [broken], triggers: [try trigger("disk_usage_percent > 85", playbook: "disk-space-cleanup-001")])
        XCTAssertEqual(fallback.replacedTriggers, [])
        XCTAssertEqual(fallback.statistics.map(\.rule), ["trigger:disk-space-cleanup-001"])
    }

    func testTriggerNumbersMayComeFirstAndCarryUnits() throws {
        var engine = RuleEngine(rules: [], triggers: [
            try trigger("0.5s < p95_latency", playbook: "slow"),
            try trigger("process_resident_memory_bytes > 3GB", playbook: "big"),
            try trigger("maintenance_mode", playbook: "lone"),
        ])
        XCTAssertEqual(engine.rejected, [])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "p95_latency", time: 0, value: 0.4))), [])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "p95_latency", time: 1, value: 0.6))).map(\.playbook), ["slow"])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "process_resident_memory_bytes", time: 0, value: 2.9e9))), [])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "process_resident_memory_bytes", time: 1, value: 3.1e9))).count, 1)
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "maintenance_mode", time: 0, value: 0))), [])
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "maintenance_mode", time: 1, value: 1))).count, 1)
    }

    func testACompoundTriggerHoldsOverTheLatestValueOfEachSeries() throws {
        let t = try trigger(#"deployment_cpu_utilization{deployment="api"} > 85% AND p95_latency{service="api"} > 500ms"#, for: 120,
                            playbook: "scale-deployment-001")
        XCTAssertNil(try t.thresholdRule().get(), "compound: not one threshold rule")
        var engine = RuleEngine(rules: [], triggers: [t])
        func cpu(_ time: Double, _ value: Double) -> Sample { Sample(metric: "deployment_cpu_utilization", labels: ["deployment": "api"], time: time, value: value) }
        func latency(_ time: Double, _ value: Double) -> Sample { Sample(metric: "p95_latency", labels: ["service": "api"], time: time, value: value) }
        XCTAssertEqual(run(&engine, [cpu(0, 90)]), [], "latency unknown: AND is not true")
        let pending = run(&engine, [latency(10, 0.7)])
        guard case .pending(let p) = pending.first else { return XCTFail("\(pending)") }
        XCTAssertEqual(p.since, 10)
        XCTAssertEqual(p.incidentKey, "trigger:scale-deployment-001")
        XCTAssertEqual(incidents(run(&engine, [cpu(60, 95), latency(100, 0.8)])), [])
        let incident = try XCTUnwrap(incidents(engine.ingest(cpu(130, 96))).first)
        XCTAssertEqual(incident.firstSeen, 10)
        XCTAssertEqual(incident.firedAt, 130)
        XCTAssertEqual(incident.metric, "deployment_cpu_utilization", "the sample that made it fire")
        XCTAssertEqual(incident.incidentKey, "trigger:scale-deployment-001")
        XCTAssertEqual(incident.playbook, "scale-deployment-001")
        // One side recovers: the condition is false, the incident goes quiet and resolves.
        _ = engine.ingest(latency(140, 0.2))
        XCTAssertEqual(resolved(engine.advance(to: 140 + 300)).map(\.resolvedAt), [140])
    }

    func testCompoundValuesOlderThanTheLookbackNoLongerCount() {
        var engine = RuleEngine(rules: [], triggers: [try! trigger("a > 1 AND b > 1")], configuration: .init(lookback: 60))
        XCTAssertEqual(run(&engine, [Sample(metric: "a", time: 0, value: 5)]), [])
        XCTAssertEqual(incidents(run(&engine, [Sample(metric: "b", time: 61, value: 5)])), [], "a is stale at 61")
        XCTAssertEqual(incidents(run(&engine, [Sample(metric: "a", time: 62, value: 5)])).count, 1)
    }

    func testOrAndNotFollowThreeValuedLogic() {
        var or = RuleEngine(rules: [], triggers: [try! trigger("up == 0 OR errors > 10")])
        XCTAssertEqual(incidents(or.ingest(Sample(metric: "up", time: 0, value: 0))).count, 1, "true OR unknown is true")
        var orUnknown = RuleEngine(rules: [], triggers: [try! trigger("up == 0 OR errors > 10")])
        XCTAssertEqual(incidents(orUnknown.ingest(Sample(metric: "up", time: 0, value: 1))), [], "false OR unknown is unknown")
        XCTAssertEqual(incidents(orUnknown.ingest(Sample(metric: "errors", time: 1, value: 11))).count, 1)
        var not = RuleEngine(rules: [], triggers: [try! trigger("NOT (up == 1) AND load > 4")])
        XCTAssertEqual(incidents(not.ingest(Sample(metric: "load", time: 0, value: 9))), [], "NOT unknown is unknown")
        XCTAssertEqual(incidents(not.ingest(Sample(metric: "up", time: 1, value: 1))), [])
        XCTAssertEqual(incidents(not.ingest(Sample(metric: "up", time: 2, value: 0))).count, 1)
    }

    func testACompoundComparisonHoldsWhenAnySeriesItSelectsSatisfiesIt() {
        var engine = RuleEngine(rules: [], triggers: [try! trigger(#"up{job="node"} == 0 AND pages > 0"#)])
        _ = engine.ingest(Sample(metric: "pages", time: 0, value: 1))
        _ = engine.ingest(Sample(metric: "up", labels: ["job": "node", "instance": "a"], time: 1, value: 1))
        XCTAssertEqual(incidents(engine.ingest(Sample(metric: "up", labels: ["job": "node", "instance": "b"], time: 2, value: 0))).count, 1)
        XCTAssertEqual(engine.statistics[0].series, 3)
    }

    func testConditionsTheEngineCannotEvaluateAreRejectedWithTheReason() throws {
        let engine = RuleEngine(rules: [], triggers: [
            try trigger("cpu_usage > load_average", playbook: "two-metrics"),
            try trigger("errors / requests > 0.5", playbook: "arithmetic"),
            try trigger("state == degraded", playbook: "words"),
            try trigger(#"status == "down""#, playbook: "text"),
            try trigger("healthy == true", playbook: "boolean"),
            try trigger("latency > 2x", playbook: "multiple"),
            try trigger("up == 0 AND 1 > 0", playbook: "numbers"),
            try trigger(#"up{job=~"(bad"} == 0"#, playbook: "regex"),
            try trigger("up == 0", playbook: "fine"),
        ])
        let reasons = Dictionary(uniqueKeysWithValues: engine.rejected.map { ($0.rule, $0.reason) })
        XCTAssertEqual(Set(reasons.keys), ["trigger:two-metrics", "trigger:arithmetic", "trigger:words", "trigger:text",
                                           "trigger:boolean", "trigger:multiple", "trigger:numbers", "trigger:regex"])
        XCTAssertEqual(reasons["trigger:two-metrics"], "condition 'cpu_usage > load_average': 'cpu_usage > load_average' compares two metrics or words; the rule engine compares a metric with a number")
        XCTAssertTrue(reasons["trigger:arithmetic"]!.contains("arithmetic"))
        XCTAssertTrue(reasons["trigger:words"]!.contains("compares two metrics or words"))
        XCTAssertTrue(reasons["trigger:text"]!.contains("text or true/false"))
        XCTAssertTrue(reasons["trigger:boolean"]!.contains("text or true/false"))
        XCTAssertTrue(reasons["trigger:multiple"]!.contains("baseline"))
        XCTAssertTrue(reasons["trigger:numbers"]!.contains("compares two numbers"))
        XCTAssertTrue(reasons["trigger:regex"]!.contains("does not compile"))
        XCTAssertEqual(engine.statistics.map(\.rule), ["trigger:fine"])
    }

    func testTheShippedPlaybooksTriggersAllCompile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let loaded = CatalogLoader(threads: 1).load(paths: [root.appendingPathComponent("playbooks").path])
        let triggers = PlaybookTrigger.all(in: loaded.catalog.playbooks)
        XCTAssertGreaterThan(triggers.count, 10)
        let engine = RuleEngine(catalog: loaded.catalog)
        XCTAssertEqual(engine.rejected, [])
        XCTAssertEqual(engine.statistics.count, triggers.count + loaded.catalog.rules.count)
    }

    // MARK: Bounds and hostile input

    func testNewSeriesBeyondTheCapAreDroppedAndCounted() {
        var engine = RuleEngine(rules: [rule("r", selector)], configuration: .init(maxSeriesPerRule: 3))
        for host in 0..<10 { _ = engine.ingest(disk(["host": "h\(host)"], 0, 50)) }
        _ = engine.ingest(disk(["host": "h1"], 1, 50))
        XCTAssertEqual(engine.statistics[0].series, 3)
        XCTAssertEqual(engine.statistics[0].droppedSamples, 7)
        XCTAssertEqual(engine.statistics[0].samples, 11)
        // The series kept still work; a dropped one never fires.
        XCTAssertEqual(incidents(engine.ingest(disk(["host": "h2"], 2, 99))).count, 1)
        XCTAssertEqual(incidents(engine.ingest(disk(["host": "h9"], 2, 99))), [])
    }

    func testHostileSamplesAreIgnoredNeverFatal() throws {
        var engine = RuleEngine(rules: [rule("r", selector, for: 60)], triggers: [try trigger("disk_usage_percent > 1 AND load > 1")])
        let hostile: [Sample] = [
            disk(100, .nan), disk(.nan, 99), disk(.infinity, 99), disk(-.infinity, 99), disk(100, .infinity),
            disk(100, 90),          // pending since 100
            disk(100, 50),          // duplicate timestamp: the first wins
            disk(40, 50),           // out of order
            disk(100, -.infinity),
            Sample(metric: "", labels: ["": ""], time: 100, value: 1),
            Sample(metric: "disk_usage_percent", labels: ["host": String(repeating: "x", count: 10_000)], time: -1e300, value: 1e300),
        ]
        let events = run(&engine, hostile)
        XCTAssertEqual(events.map(\.kind), ["pending", "pending"], "host a at 100, and the long-named series at -1e300")
        XCTAssertEqual(engine.statistics[0].ignoredSamples, 8)
        XCTAssertEqual(incidents(engine.ingest(disk(160, 90))).map(\.firstSeen), [100], "the ignored samples changed nothing")
        XCTAssertEqual(engine.watermark, 160)
        XCTAssertEqual(engine.advance(to: -5), [], "time never goes back")
        XCTAssertEqual(engine.watermark, 160)
    }

    func testEventsNameTheirRule() throws {
        var engine = RuleEngine(rules: [rule("x", selector, for: 10)])
        XCTAssertEqual(run(&engine, [disk(0, 90), disk(10, 90)]).map(\.rule), ["x", "x"])
    }
}

private extension RuleEvent {
    var kind: String {
        switch self {
        case .pending: "pending"
        case .firing: "firing"
        case .resolved: "resolved"
        case .suppressed: "suppressed"
        }
    }
}
