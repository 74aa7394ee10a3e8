import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import XCTest

final class PlannerTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func shipped() throws -> Catalog {
        let result = CatalogLoader().load(paths: CatalogLoader.libraryFolders.map { Self.root.appendingPathComponent($0).path })
        XCTAssertFalse(result.hasErrors)
        return result.catalog
    }

    /// A value of the declared type for every required input without a default.
    private func sampleInputs(_ playbook: Playbook) -> [String: String] {
        var given: [String: String] = [:]
        for spec in playbook.parameters where spec.required && spec.defaultValue == nil {
            switch spec.type {
            case .integer, .number: given[spec.name] = "3"
            case .boolean: given[spec.name] = "true"
            case .duration: given[spec.name] = "5m"
            case .percentage: given[spec.name] = "10%"
            case .size: given[spec.name] = "1GB"
            default: given[spec.name] = spec.allowedValues?.first ?? "sample-\(spec.name)"
            }
        }
        return given
    }

    func testEveryShippedPlaybookPlansEveryStepWithEveryRequiredInput() throws {
        let catalog = try shipped()
        XCTAssertGreaterThanOrEqual(catalog.playbooks.count, 20)
        for playbook in catalog.playbooks {
            let plan = try Planner(catalog: catalog).plan(playbook, given: sampleInputs(playbook))
            XCTAssertEqual(plan.steps.map(\.number), playbook.steps.map(\.number), playbook.id)
            for (step, planned) in zip(playbook.steps, plan.steps) {
                let action = try XCTUnwrap(catalog.action(named: step.action))
                let names = Set(planned.environment.map(\.name))
                for spec in action.parameters where spec.required {
                    XCTAssertTrue(names.contains(spec.name), "\(playbook.id) step \(step.number) lacks \(spec.name)")
                }
                XCTAssertEqual(planned.executor, action.executor)
                XCTAssertEqual(planned.timeout, step.timeout ?? action.timeout ?? Planner.defaultStepTimeout)
            }
        }
    }

    func testValuesAreRenderedForTheEnvironmentAndInputsFlowIntoSteps() throws {
        let catalog = try shipped()
        let playbook = try XCTUnwrap(catalog.playbook(id: "disk-space-cleanup-001"))
        let plan = try Planner(catalog: catalog).plan(playbook)
        let first = try XCTUnwrap(plan.steps.first)
        XCTAssertEqual(first.environment.first { $0.name == "age_threshold" }?.value, "604800", "7_days in seconds")
        XCTAssertEqual(first.environment.first { $0.name == "paths" }?.value, "/tmp/* /var/tmp/*")
        XCTAssertFalse(plan.rollback.available)
    }

    func testGivenInputsAreTypedAndUnknownOrMissingOnesRefused() throws {
        let text = """
            playbook_id: restart-one
            name: Restart one service
            version: "1"
            category: infrastructure
            severity: low
            parameters:
              service_name: required
              grace: {type: duration, default: 30s}
            remediation_steps:
              - step: 1
                name: Restart
                action: restart_service
                service_name: ${service_name}
            """
        let actions = try [UInt8](Data(contentsOf: Self.root.appendingPathComponent("actions/infrastructure.yaml")))
        let result = CatalogLoader().load(documents: [("restart-one.yaml", Array(text.utf8)), ("infrastructure.yaml", actions)])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        let playbook = try XCTUnwrap(result.catalog.playbook(id: "restart-one"))
        let planner = Planner(catalog: result.catalog)
        let plan = try planner.plan(playbook, given: ["service_name": "nginx", "grace": "2m"])
        XCTAssertEqual(plan.parameters, [RenderedParameter(name: "service_name", value: "nginx", source: .given),
                                         RenderedParameter(name: "grace", value: "120", source: .given)])
        XCTAssertEqual(plan.steps.first?.environment.first { $0.name == "service_name" }?.value, "nginx")
        XCTAssertThrowsError(try planner.plan(playbook)) { XCTAssertTrue("\($0)".contains("service_name"), "\($0)") }
        XCTAssertThrowsError(try planner.plan(playbook, given: ["service_name": "x", "grace": "soon"])) {
            XCTAssertTrue("\($0)".contains("grace"), "\($0)")
        }
        XCTAssertThrowsError(try planner.plan(playbook, given: ["service_name": "x", "servce_name": "y"])) {
            XCTAssertTrue("\($0)".contains("did you mean 'service_name'"), "\($0)")
        }
    }

    func testTargetsFromTheCallerReplaceThePlaybooks() throws {
        let catalog = try shipped()
        let playbook = try XCTUnwrap(catalog.playbook(id: "disk-space-cleanup-001"))
        let plan = try Planner(catalog: catalog).plan(playbook, targets: [TargetSpec(name: "web-1")])
        XCTAssertEqual(plan.targets.map(\.name), ["web-1"])
    }

    func testShellQuotingIsExact() {
        XCTAssertEqual(PlanRenderer.shellQuoted("it's $(x)"), #"'it'\''s $(x)'"#)
    }

    func testAStepValueThenAPlaybookInputThenTheActionDefault() throws {
        let actions = "actions:\n  fill:\n    type: infrastructure\n    risk_level: low\n    parameters:\n      size: {type: integer, default: 8}\n    implementation: echo \"${size}\"\n"
        let playbook = """
            playbook_id: fill-001
            name: Fill
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              size: {type: integer, default: 2}
            remediation_steps:
              - {step: 1, name: inherits, action: fill}
              - {step: 2, name: own value, action: fill, size: 3}
            metadata: {}
            """
        let loaded = CatalogLoader().load(documents: [("a.yaml", Array(actions.utf8)), ("p.yaml", Array(playbook.utf8))])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let planner = Planner(catalog: loaded.catalog)
        let defaults = try planner.plan(loaded.catalog.playbooks[0])
        XCTAssertEqual(defaults.steps.map { $0.environment.first?.value }, ["2", "3"], "the playbook's default outranks the action's")
        let given = try planner.plan(loaded.catalog.playbooks[0], given: ["size": "5"])
        XCTAssertEqual(given.steps.map { $0.environment.first?.value }, ["5", "3"], "--param reaches the step; the step's own value wins")
    }
}
