import Foundation
import XCTest

final class PlanCommandTests: XCTestCase {
    func testPlanShowsStepsWithTheirEnvironment() throws {
        let run = try Medic.run(["plan", "disk-space-cleanup-001"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("1. Clean temporary files [cleanup_temp_files, shell"), run.stdout)
        XCTAssertTrue(run.stdout.contains("age_threshold='604800'"), run.stdout)
        XCTAssertTrue(run.stdout.contains("On failure: no rollback"), run.stdout)
    }

    /// A playbook named by its path inside the library is the library's playbook, not a duplicate.
    func testAPlaybookFileInsideTheLibraryPlans() throws {
        let run = try Medic.run(["plan", "./playbooks/disk-space-cleanup-001.yaml"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("Plan for disk-space-cleanup-001"), run.stdout)
    }

    func testGivenValuesAreShellQuotedAndJSONIsThePlan() throws {
        let value = "app=cart'; reboot"
        let text = try Medic.run(["plan", "pod-restart-001", "--param", "pod_selector=\(value)"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains(#"pod_selector='app=cart'\''; reboot'"#), text.stdout)
        let json = try Medic.run(["plan", "pod-restart-001", "--param", "pod_selector=\(value)", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let plan = try Medic.json(json.stdout)
        XCTAssertEqual(plan["playbook_id"] as? String, "pod-restart-001")
        let steps = try XCTUnwrap(plan["steps"] as? [[String: Any]])
        let environment = try XCTUnwrap(steps.first?["environment"] as? [[String: Any]])
        XCTAssertTrue(environment.contains { $0["name"] as? String == "pod_selector" && $0["value"] as? String == value })
    }

    func testUsageFaultsExitTwoAndABrokenCatalogExitsOne() throws {
        XCTAssertEqual(try Medic.run(["plan", "no-such-playbook"]).status, 2)
        XCTAssertEqual(try Medic.run(["plan", "disk-space-cleanup-001", "--param", "bogus=1"]).status, 2)
        XCTAssertEqual(try Medic.run(["plan", "disk-space-cleanup-001", "--param", "novalue"]).status, 2)
        let broken = Medic.fixtures.appendingPathComponent("invalid/M302-unknown-action.yaml").path
        let run = try Medic.run(["plan", broken])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("error[M302]"), run.stderr)
    }
}
