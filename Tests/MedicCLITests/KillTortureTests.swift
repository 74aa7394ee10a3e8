import Foundation
import MedicTestSupport
import XCTest

/// Medic SIGKILLed at random moments, during `medic run` and during `medic resume`, then resumed
/// until the run finishes: no step twice at once, no non-idempotent step's effect twice, and
/// every step's effect in a run reported succeeded (`KillTorture`; `MedicBench kill-torture`
/// does a thousand kills).
final class KillTortureTests: XCTestCase {
    func testRandomKillsNeverRunAStepTwiceNorLoseOne() throws {
        let dir = try Medic.temporaryDirectory(self)
        let torture = KillTorture(medic: Medic.binary.path, directory: dir)
        let report = try torture.run(runs: 4, maxKills: 10, killWindow: 0.05...2.0)
        XCTAssertEqual(report.violations, [], "\(report)")
        XCTAssertEqual(report.outcomes, ["succeeded": 4], "\(report)")
        // It tested something: Medic was killed, resumes found steps it had left running.
        XCTAssertGreaterThanOrEqual(report.kills, 16, "\(report)")
        XCTAssertGreaterThan(report.killsDuringResume, 0, "\(report)")
        XCTAssertGreaterThan(report.orphansFound, 0, "\(report)")
    }
}
