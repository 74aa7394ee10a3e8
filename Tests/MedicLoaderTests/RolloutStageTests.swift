import MedicLoader
import MedicModel
import XCTest

/// `rollout.stages` (docs/format.md, "Rollout"): each refused stage is reported once, as what it is.
final class RolloutStageTests: XCTestCase {
    private func diagnostics(stages: String) -> [Diagnostic] {
        let playbook = """
            playbook_id: staged
            name: Staged
            version: "1"
            category: network
            severity: low
            targets: [web-01, web-02]
            rollout:
              stages: \(stages)
            remediation_steps:
              - step: 1
                name: s
                action: noop
            """
        let actions = "actions:\n  noop:\n    type: shell\n    risk_level: low\n    implementation: \"true\"\n"
        return CatalogLoader().load(documents: [("staged.yaml", Array(playbook.utf8)), ("actions.yaml", Array(actions.utf8))]).diagnostics
    }

    func testAStageOutOfRangeIsNotAlsoAnEmptyList() {
        for stages in ["[150%]", "[0%]", "[0]", "[-5%]", "[101%, 0]"] {
            let found = diagnostics(stages: stages)
            XCTAssertFalse(found.isEmpty, stages)
            XCTAssertEqual(Set(found.map(\.code)), [.outOfRange], "\(stages): \(describe(found))")
        }
        XCTAssertEqual(diagnostics(stages: "[]").map(\.code), [.missingKey], "an empty list is its own fault")
        XCTAssertEqual(diagnostics(stages: "[1, 50%, all]"), [])
        XCTAssertEqual(diagnostics(stages: "[0x2, 100%]"), [], "a count is an integer as YAML 1.2 reads one")
    }
}
