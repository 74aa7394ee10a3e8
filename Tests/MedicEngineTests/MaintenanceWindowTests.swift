import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import XCTest

final class MaintenanceWindowTests: XCTestCase {
    private func verdict(policies: String, maintenanceOnly: Bool = true, at now: String,
                         gate: any Gate = MaintenanceWindowGate(), preconditions: String = "") async throws -> GateVerdict {
        let actions = """
            actions:
              promote:
                type: database
                risk_level: low
                maintenance_only: \(maintenanceOnly)
                implementation: "true"
            """
        let playbook = """
            playbook_id: promote-001
            name: Promote
            version: 1.0.0
            category: database
            severity: SEV3
            \(preconditions)
            remediation_steps:
              - {step: 1, name: promote, action: promote}
            metadata: {}
            """
        let loaded = CatalogLoader().load(documents: [
            ("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(playbook.utf8)),
            ("policies/w.yaml", Array(policies.utf8)),
        ])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let plan = try Planner(catalog: loaded.catalog).plan(loaded.catalog.playbooks[0])
        let date = try Date(now, strategy: .iso8601)
        return await gate.evaluate(
            GateContext(plan: plan, catalog: loaded.catalog, mode: .manual, stateDirectory: "/nonexistent", now: date))
    }

    private let weekendNights = """
        maintenance_windows:
          weekend_nights:
            days: [sat, sun]
            start: "02:00"
            duration: 2h
        """

    func testMaintenanceOnlyStepsRunInsideAWindowAndWaitForTheNextOtherwise() async throws {
        // 2026-11-28 is a Saturday.
        var v = try await verdict(policies: weekendNights, at: "2026-11-28T03:00:00Z")
        XCTAssertEqual(v.decision, .pass, v.reason)
        XCTAssertTrue(v.reason.contains("until 2026-11-28T04:00:00.000Z"), v.reason)
        v = try await verdict(policies: weekendNights, at: "2026-11-27T12:00:00Z")
        XCTAssertEqual(v.decision, .deferred)
        XCTAssertEqual(v.until, "2026-11-28T02:00:00.000Z")
        v = try await verdict(policies: weekendNights, at: "2026-11-29T04:30:00Z")
        XCTAssertEqual(v.until, "2026-12-05T02:00:00.000Z", "after Sunday's window: next Saturday")
        v = try await verdict(policies: weekendNights, maintenanceOnly: false, at: "2026-11-27T12:00:00Z")
        XCTAssertEqual(v.decision, .pass)
    }

    func testWindowsFollowTheirTimeZoneAndCanSpanMidnight() async throws {
        let berlin = """
            maintenance_windows:
              nightly:
                start: "23:00"
                duration: 3h
                timezone: Europe/Berlin
            """
        // 23:00 in Berlin is 22:00 UTC in winter; the window runs to 02:00 Berlin (01:00 UTC).
        var v = try await verdict(policies: berlin, at: "2026-11-27T22:30:00Z")
        XCTAssertEqual(v.decision, .pass, v.reason)
        v = try await verdict(policies: berlin, at: "2026-11-28T00:45:00Z")
        XCTAssertEqual(v.decision, .pass, "past midnight, still the night before's window: \(v.reason)")
        v = try await verdict(policies: berlin, at: "2026-11-28T01:30:00Z")
        XCTAssertEqual(v.until, "2026-11-28T22:00:00.000Z")
    }

    func testWithoutAWindowAMaintenanceOnlyStepIsRefused() async throws {
        let v = try await verdict(policies: "rate_limits:\n  x: {scope: playbook, max_runs: 9, window: 1h}\n", at: "2026-11-27T12:00:00Z")
        XCTAssertEqual(v.decision, .refuse)
        XCTAssertTrue(v.reason.contains("no maintenance window is defined"), v.reason)
    }

    func testBadWindowsAreDiagnosed() {
        let bad = """
            maintenance_windows:
              w:
                days: [saturn]
                start: "25:00"
                duration: 2h
                timezone: Mars/Olympus
            """
        let loaded = CatalogLoader().load(documents: [("policies/w.yaml", Array(bad.utf8))])
        let messages = loaded.diagnostics.map(\.message)
        XCTAssertTrue(messages.contains { $0.contains("'saturn' is not a day of the week") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.contains("'start' must be a time of day as HH:MM") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.contains("'Mars/Olympus' is not a time zone") }, "\(messages)")
    }

    func testNotInMaintenanceFailsWhileAWindowIsOpen() async throws {
        let pre = "pre_conditions:\n  - check: not_in_maintenance"
        var v = try await verdict(policies: weekendNights, maintenanceOnly: false, at: "2026-11-28T03:00:00Z",
                                  gate: PreconditionGate(), preconditions: pre)
        XCTAssertEqual(v.decision, .refuse)
        XCTAssertTrue(v.reason.contains("maintenance window 'weekend_nights' is open until 2026-11-28T04:00:00.000Z"), v.reason)
        v = try await verdict(policies: weekendNights, maintenanceOnly: false, at: "2026-11-27T12:00:00Z",
                              gate: PreconditionGate(), preconditions: pre)
        XCTAssertEqual(v.decision, .pass, v.reason)
    }
}
