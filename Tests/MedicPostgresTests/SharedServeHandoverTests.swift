import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// A server stopped gracefully (SIGTERM) hands its leases over as it goes: another server takes
/// its runs over at its next takeover pass, not once the leases would have expired.
final class SharedServeHandoverTests: PostgresTestCase {
    /// The departing server's leases last 600 s; once it has exited after a SIGTERM in the middle
    /// of a 20-step run, neither the run's lease nor its target's is held by it any more, and the
    /// other server (passing every second) finishes the run, no step twice.
    func testAServerStoppedGracefullyReleasesItsLeasesSoAnotherResumesItsRunAtOnce() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let departing = try await workspace.serve(self, "departing", lease: 600)
        let survivor = try await workspace.serve(self, "survivor", lease: 3)
        let target = "handover-host"
        let answer = try await departing.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Long", fingerprint: "6100000000000001",
                                                                                                 instance: target))
        XCTAssertEqual(answer.status, 200, answer.body)
        let runID = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
        _ = try await ServeProcess.poll("the departing server's run under way", seconds: 60) {
            workspace.effectLines.contains("step 3 \(target)") ? true : nil
        }
        let status: Int32
        do {
            status = try await departing.stop(with: SIGTERM)
        } catch {
            return XCTFail("\(error); the departing server said:\n\(departing.stderr.suffix(3000))")
        }
        XCTAssertEqual(status, 0, departing.stderr)

        // Read once it has exited: what it held, it gave up before closing its connections (the
        // survivor may have taken them since).
        let runLease = try await PostgresLeases(database).holder(of: "run:\(runID)")
        XCTAssertNotEqual(runLease?.owner, "departing", "the run's lease is released at a graceful stop: \(String(describing: runLease))")
        let targetHolder = try await PostgresTargetLeases(database).holders(of: [target]).first?.holder
        XCTAssertNotEqual(targetHolder?.pid, departing.process.processIdentifier,
                          "the target's lease is released at a graceful stop: \(String(describing: targetHolder))")
        let reader = PostgresRunStore(database, owner: "reader")
        let run = try await ServeProcess.poll("run \(runID) finished by the survivor (it said: \(survivor.stderr.suffix(2000)))",
                                              seconds: 120) { () async throws -> RunSummary? in
            try await reader.summaries().first { $0.id == runID && $0.status == .finished }
        }
        XCTAssertNotNil(run.outcome)
        XCTAssertTrue(survivor.stderr.contains("taking over interrupted run"), "the survivor resumed the run: \(survivor.stderr.suffix(2000))")
        XCTAssertFalse(departing.stderr.contains("run ended"), "the departing server stopped before the run's end: \(departing.stderr.suffix(2000))")
        let steps = workspace.effectLines.filter { $0.hasSuffix(" \(target)") }
        XCTAssertEqual(steps.count, Set(steps).count, "a step ran twice: \(steps)")
        XCTAssertTrue(steps.contains("step 3 \(target)"), "\(steps)")
    }
}
