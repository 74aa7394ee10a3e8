import Foundation
@testable import MedicEngine
import XCTest

/// Parameter sources and gate names are types (`ParameterOrigin`, `GateID`), spelled in JSON as
/// they always were: journals already on disk read the same, and write back the same bytes.
final class JournalSpellingTests: XCTestCase {
    private func body(_ line: String) throws -> [UInt8] {
        switch JournalChecksum.unseal(Array(line.utf8)[...]) {
        case .success(let body): return body
        case .failure(let why): throw why
        }
    }

    private func record(_ line: String) throws -> JournalRecord {
        try JournalCodec.decode(Substring(String(decoding: try body(line), as: UTF8.self)))
    }

    func testARecordedJournalReadsAsTheTypesAndWritesBackByteForByte() throws {
        for line in [RecordedJournal.runStarted, RecordedJournal.gatesEvaluated] {
            let written = JournalChecksum.seal(try JournalCodec.encode(try record(line)))
            XCTAssertEqual(String(decoding: written, as: UTF8.self), line)
        }
        let plan = try XCTUnwrap(try record(RecordedJournal.runStarted).plan)
        XCTAssertEqual(plan.parameters.map(\.source), [.given, .default])
        XCTAssertEqual(plan.steps[0].environment.map(\.source), [.default, .step, .given, .step, .step])
        let rollback = try XCTUnwrap(plan.rollback.steps.first)
        XCTAssertEqual(rollback.environment.map(\.source), [.default, .given, .outputOfStep(1)])
        XCTAssertEqual(rollback.environment.map(\.source.isStepOutput), [false, false, true])

        let gates = try XCTUnwrap(try record(RecordedJournal.gatesEvaluated).gates)
        XCTAssertEqual(gates.map(\.gate), GateID.allCases, "the recorded pipeline's order is GateID's")
        XCTAssertEqual(plan.gates.map(\.gate), GateID.allCases)
        XCTAssertEqual(gates.first?.gate, .killSwitch)
        XCTAssertEqual(gates.first?.decision, .refuse)
    }

    func testEveryOriginSpellingRoundTrips() throws {
        let cases: [(String, ParameterOrigin)] = [
            ("default", .default), ("given", .given), ("step", .step), ("output of step 1", .outputOfStep(1)),
            ("output of step 12", .outputOfStep(12)),
        ]
        for (spelling, origin) in cases {
            let json = Data("[\"\(spelling)\"]".utf8)
            XCTAssertEqual(try JSONDecoder().decode([ParameterOrigin].self, from: json), [origin], spelling)
            XCTAssertEqual(try JSONEncoder().encode([origin]), json, spelling)
            XCTAssertEqual("\(origin)", spelling, "text output prints the JSON spelling")
        }
    }

    func testAnUnknownOriginIsRefusedByName() {
        for spelling in ["Given", "input", "", "output of step", "output of step x", "output of step 01", "output of step +1",
                         "output of step 1 ", "output of 1"] {
            XCTAssertThrowsError(try JSONDecoder().decode([ParameterOrigin].self, from: Data("[\"\(spelling)\"]".utf8))) { error in
                guard case DecodingError.dataCorrupted(let context) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(context.debugDescription,
                               "parameter source '\(spelling)' is none of default, given, step, output of step N")
            }
        }
    }

    func testAnUnknownGateIsRefusedByName() {
        for spelling in ["pause", "Kill_switch", "circuit_breaker", ""] {
            XCTAssertThrowsError(try JSONDecoder().decode([GateID].self, from: Data("[\"\(spelling)\"]".utf8))) { error in
                guard case DecodingError.dataCorrupted(let context) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(context.debugDescription, "gate '\(spelling)' is none of kill_switch, severity_policy, blast_radius, "
                    + "safe_mode, breaker, rate_limit, maintenance_window, approval, preconditions, target_lock")
            }
        }
    }

    /// A journal line naming a gate Medic does not know is damage, reported as such, not a verdict.
    func testAJournalWithAnUnknownGateIsDamagedAndSaysWhy() throws {
        let renamed = String(decoding: try body(RecordedJournal.gatesEvaluated), as: UTF8.self)
            .replacingOccurrences(of: #""gate":"breaker""#, with: #""gate":"circuit_breaker""#)
        let line = String(decoding: JournalChecksum.seal(Array(renamed.utf8)), as: UTF8.self)
        let whole = JournalScan(Array((RecordedJournal.runStarted + "\n" + RecordedJournal.gatesEvaluated + "\n").utf8), path: "j")
        XCTAssertEqual(whole.damage, [])
        XCTAssertEqual(whole.records.count, 2)
        let scan = JournalScan(Array((RecordedJournal.runStarted + "\n" + line + "\n").utf8), path: "j")
        XCTAssertEqual(scan.damage.map(\.line), [2])
        XCTAssertTrue(scan.damage.first?.reason.contains("gate 'circuit_breaker' is none of kill_switch") == true,
                      scan.damage.first?.reason ?? "no damage")
    }

    func testTheStandardPipelineRunsEachGateUnderItsOwnName() {
        XCTAssertEqual(GatePipeline.standard.gates.map(\.name), GateID.allCases)
    }
}
