import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The library Medic ships: it must load cleanly, hold the reference's playbook as written, and
/// cover every entry of §3.2 with playbooks that use only shipped actions.
final class ShippedLibraryTests: XCTestCase {
    private var shipped: LoadResult {
        load(CatalogLoader.libraryFolders.map { repositoryRoot.appendingPathComponent($0) })
    }

    func testShippedLibraryLoadsWithoutADiagnostic() {
        let result = shipped
        XCTAssertEqual(result.diagnostics, [], describe(result.diagnostics))
    }

    func testEveryActionOfTheReferenceIsShipped() {
        let names = Set(shipped.catalog.actions.map(\.name))
        let reference = [
            "restart_service", "cleanup_temp_files", "increase_resource_limit", "restart_pod", "scale_deployment", "drain_node",
            "clear_cache", "circuit_breaker_reset", "rollback_deployment", "kill_long_running_queries", "vacuum_database",
            "promote_replica", "flush_dns_cache", "restart_network_interface", "update_firewall_rules",
        ]
        XCTAssertEqual(reference.filter { !names.contains($0) }, [], "missing §4 actions")
    }

    func testShellActionsAreValidPOSIXShell() throws {
        for action in shipped.catalog.actions {
            for (label, script) in [("implementation", action.implementation), ("verification", action.verification), ("rollback", action.rollback)] {
                guard let script else { continue }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-n", "-c", script.text]
                let errors = Pipe()
                process.standardError = errors
                try process.run()
                process.waitUntilExit()
                let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                XCTAssertEqual(process.terminationStatus, 0, "\(action.name) \(label): \(message)")
            }
        }
    }

    /// The reference's §3.1 example, copied byte for byte into `Fixtures/reference` (its README
    /// says from where), is the playbook Medic ships.
    func testTheReferencePlaybookIsShippedExactlyAsWritten() throws {
        let reference = try String(contentsOf: fixtures.appendingPathComponent("reference/disk-space-cleanup-001.yaml"), encoding: .utf8)
        XCTAssertTrue(reference.hasPrefix("playbook_id: \"disk-space-cleanup-001\"\n"), "the fixture is the reference's block")
        let shippedText = try String(contentsOf: repositoryRoot.appendingPathComponent("playbooks/disk-space-cleanup-001.yaml"), encoding: .utf8)
        XCTAssertEqual(shippedText, reference)
        let playbook = try XCTUnwrap(shipped.catalog.playbooks.first { $0.id == "disk-space-cleanup-001" })
        XCTAssertEqual(playbook.steps.count, reference.components(separatedBy: "\n  - step: ").count - 1, "every step of the reference loaded")
    }

    func testEveryCategoryEntryOfTheReferenceHasAPlaybook() {
        let catalog = shipped.catalog
        XCTAssertGreaterThanOrEqual(catalog.playbooks.count, 20)
        let entries: [Category: [String]] = [
            .infrastructure: ["disk-space-cleanup", "network-connectivity-restore", "vm-restart", "service-restart"],
            .kubernetes: ["pod-restart", "node-drain-and-replace", "scale-deployment", "clear-evicted-pods"],
            .application: ["clear-application-cache", "restart-service", "rollback-deployment", "circuit-breaker-reset"],
            .database: ["kill-long-running-queries", "rebuild-indexes", "vacuum-tables", "failover-to-replica"],
            .network: ["flush-dns-cache", "restart-network-interface", "update-routing-table", "reset-firewall-rules"],
        ]
        for (category, ids) in entries {
            for id in ids {
                let match = catalog.playbooks.first { $0.id.hasPrefix(id) && $0.category == category }
                XCTAssertNotNil(match, "no \(category.rawValue) playbook for §3.2 entry \(id)")
            }
        }
    }

    func testPoliciesHoldEveryBlockOfTheReference() {
        let policies = shipped.catalog.policies
        XCTAssertEqual(Set(policies.severityLevels.map(\.severity)), [.sev0, .sev1, .sev2, .sev3])
        XCTAssertEqual(policies.escalationPolicies.count, 2)
        XCTAssertEqual(policies.autoEscalationTriggers.count, 6)
        XCTAssertEqual(Set(policies.blastRadiusLevels.map(\.level)), Set(BlastRadius.allCases))
        XCTAssertEqual(Set(policies.containmentStrategies.map(\.name)), ["circuit_breaker", "progressive_rollout", "safe_mode", "maintenance_window_only"])
        XCTAssertEqual(Set(policies.rollbackStrategies.map(\.name)), ["immediate_rollback", "gradual_rollback", "checkpoint_rollback"])
        XCTAssertEqual(Set(policies.verificationStates.map(\.state)), Set(VerificationState.allCases))
        XCTAssertEqual(Set(policies.knowledgeBase.map(\.file)),
                       ["incident-patterns.jsonl", "playbook-performance.jsonl", "root-causes.json", "remediation-effectiveness.jsonl"])
        let breaker = policies.containmentStrategies.first { $0.name == "circuit_breaker" }
        XCTAssertEqual(breaker?.cooldown, Interval(seconds: 3600))
        let sev0 = policies.severityLevels.first { $0.severity == .sev0 }
        XCTAssertEqual(sev0?.autoRemediation, .limited)
        XCTAssertEqual(sev0?.notifications.first, NotificationTarget(recipient: "on_call_engineer", methods: ["phone"]))
    }
}
