import Foundation
import MedicEngine
import MedicModel
import XCTest

/// `<state>/requesters/<run id>` (who asked medic serve's API for a run) goes with its run when
/// `medic prune` prunes the run, and stays while the run stays.
final class PruneRequestersTests: XCTestCase {
    func testPruningARunRemovesItsRequesterAndLeavesTheOthers() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 200)
        var ids: [String] = []
        for _ in 0..<14 { ids.append(try await bench.run()) }
        let folder = bench.directory + "/requesters"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for id in ids { XCTAssertTrue(FileManager.default.createFile(atPath: folder + "/" + id, contents: Data("alice".utf8))) }
        // A run being requested now: its requester is written before its journal.
        let coming = RunStore.newRunID(at: Date())
        XCTAssertTrue(FileManager.default.createFile(atPath: folder + "/" + coming, contents: Data("bob".utf8)))

        let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 30 * 86_400), runsKeepAtLeast: 0)
        let report = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: Date()).prune(dryRun: false)
        XCTAssertEqual(report.failures, [])
        let pruned = Set(report.actions.compactMap(\.run))
        XCTAssertFalse(pruned.isEmpty, "\(report.actions)")
        XCTAssertEqual(bench.files("requesters"), Set(ids.filter { !pruned.contains($0) } + [coming]),
                       "the requesters of the pruned runs went; those of the runs kept, and of a run being requested, stay")
    }
}
