import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// The bus outbox behind `EventOutbox`: a run's bus steps reach the outbox they are given, and
/// what a dispatcher reads back keeps every event's id and each appender's order, going on from
/// its cursor. The file is today's `outbox.jsonl` (its format: `BusExecutorTests`).
final class EventOutboxTests: XCTestCase {
    private func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-outbox-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// Every event of `outbox` from `cursor` on, read `limit` at a time, and the cursor after them.
    private func readAll(_ outbox: any EventOutbox, after cursor: OutboxCursor? = nil, limit: Int = 7) throws
        -> (events: [OutboxEvent], next: OutboxCursor?) {
        var events: [OutboxEvent] = []
        var cursor = cursor
        while true {
            let page = try outbox.events(after: cursor, limit: limit)
            XCTAssertEqual(page.damage, [])
            XCTAssertLessThanOrEqual(page.events.count, limit)
            if let last = page.events.last { XCTAssertEqual(last.cursor, page.next) }
            cursor = page.next
            if page.events.isEmpty { return (events, cursor) }
            events += page.events.map(\.event)
        }
    }

    func testARunsBusStepsGoThroughTheOutboxItsBusIsGiven() async throws {
        let library = [
            ("actions/a.yaml", """
                actions:
                  announce:
                    type: application
                    executor: bus
                    risk_level: low
                    parameters: {summary: optional}
                    topic: dev.medic.remediation.finished
                """),
            ("playbooks/p.yaml", """
                playbook_id: announce-001
                name: Announce
                version: 1.0.0
                category: application
                severity: SEV3
                remediation_steps:
                  - {step: 1, name: first, action: announce, parameters: {summary: one}}
                  - {step: 2, name: second, action: announce, parameters: {summary: two}}
                metadata: {}
                """),
        ]
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let state = scratch()
        let stores = try StateStores.files(in: state)
        let log = CallLog()
        let outbox = RecordingOutbox(base: stores.outbox, log: log)
        let environment = EngineEnvironment(stateDirectory: state, clock: ManualClock())
        let interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: BusExecutor(outbox: outbox, environment: environment),
                                                             http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: environment.clock),
                                      environment: environment)
        let plan = try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbooks.first))
        let report = try await interpreter.start(plan, in: stores.runs)
        XCTAssertEqual(report.outcome, .succeeded)

        let published = report.steps.compactMap { $0.outputs["event_id"] }
        XCTAssertEqual(published.count, 2)
        XCTAssertEqual(log.calls, published, "each event went through the outbox given, in the steps' order")
        let read = try readAll(stores.outbox)
        XCTAssertEqual(read.events.map(\.id), published)
        let events = try read.events.map { try CloudEvent.decode(structuredJSON: Data($0.json)) }
        XCTAssertEqual(events.map { $0.data["summary"] }, ["one", "two"])
        XCTAssertEqual(stores.outbox.location, state + "/outbox.jsonl", "today's file")
    }

    func testEventsKeepTheirIdsAndEachAppendersOrderAndAReaderGoesOnFromItsCursor() async throws {
        let path = scratch() + "/outbox.jsonl"
        let bus = BusExecutor(transport: .outbox(path: path), clock: ManualClock())
        // Three appenders at once, each publishing its events one after the other.
        let published = try await withThrowingTaskGroup(of: [String].self) { group in
            for appender in 0..<3 {
                group.addTask {
                    var ids: [String] = []
                    for n in 0..<20 {
                        let request = ExecutionRequest(runID: "run-\(appender)", stepNumber: n, stepName: "s", action: "a", purpose: .step,
                                                       executor: .bus, topic: "t", parameters: ["n": String(n)], timeout: 10)
                        let result = try await bus.execute(request)
                        ids.append(try XCTUnwrap(result.outputs["event_id"]))
                    }
                    return ids
                }
            }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        let outbox = StateStores.outbox(at: path)
        let (read, cursor) = try readAll(outbox)
        XCTAssertEqual(read.count, 60)
        XCTAssertEqual(Set(read.map(\.id)).count, 60, "no event twice")
        XCTAssertEqual(Set(read.map(\.id)), Set(published.flatMap { $0 }), "every id as published")
        let events = try read.map { try CloudEvent.decode(structuredJSON: Data($0.json)) }
        for ids in published {
            let appenders = Set(events.filter { ids.contains($0.id) }.map(\.runID))
            XCTAssertEqual(appenders.count, 1)
            XCTAssertEqual(events.filter { ids.contains($0.id) }.map(\.id), ids, "one appender's events in its order")
            XCTAssertEqual(events.filter { ids.contains($0.id) }.map { $0.data["n"] }, (0..<20).map { String($0) })
        }

        // From the cursor kept: nothing more, then exactly what is appended next.
        XCTAssertEqual(try outbox.events(after: cursor, limit: 10).events.count, 0)
        let later = try await bus.execute(ExecutionRequest(runID: "run-9", stepNumber: 1, stepName: "s", action: "a", purpose: .step,
                                                           executor: .bus, topic: "t", parameters: [:], timeout: 10))
        XCTAssertEqual(try readAll(outbox, after: cursor).events.map(\.id), [try XCTUnwrap(later.outputs["event_id"])])
        // A reader that lost its cursor reads again from the start: at least once, never fewer.
        XCTAssertEqual(try readAll(outbox).events.count, 61)
    }

    /// A crash in the middle of a write leaves a line without its newline: the next event is
    /// written on a line of its own (never glued to it), and readers skip the torn line.
    func testATornLastLineNeverSwallowsTheNextEvent() async throws {
        let path = scratch() + "/outbox.jsonl"
        let bus = BusExecutor(transport: .outbox(path: path), clock: ManualClock())
        let request = ExecutionRequest(runID: "r", stepNumber: 1, stepName: "s", action: "a", purpose: .step, executor: .bus,
                                       topic: "t", parameters: [:], timeout: 10)
        let first = try await bus.execute(request).outputs["event_id"]
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id":"torn","specversion":"1.0","so"#.utf8))
        try handle.close()
        let outbox = StateStores.outbox(at: path)
        let beforeTheNext = try outbox.events(after: nil, limit: 10)
        XCTAssertEqual(beforeTheNext.events.map(\.event.id), [first].compactMap { $0 }, "a line still being written is not read yet")

        let second = try await bus.execute(request).outputs["event_id"]
        let page = try outbox.events(after: nil, limit: 10)
        XCTAssertEqual(page.events.map(\.event.id), [first, second].compactMap { $0 })
        XCTAssertEqual(page.damage.count, 1, "\(page.damage)")
        XCTAssertTrue(page.damage.first?.contains("not a CloudEvent") == true, "\(page.damage)")
        XCTAssertEqual(try outbox.events(after: beforeTheNext.next, limit: 10).events.map(\.event.id), [second].compactMap { $0 })
    }
}
