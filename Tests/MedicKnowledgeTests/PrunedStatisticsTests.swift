import Foundation
import MedicKnowledge
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `medic prune` keeps the statistics of the records it takes out of the history: the
/// whole-history figures (`kb stats` without `--since`) are the same before and after, whether
/// the records are archived or deleted, and a prune killed part-way counts them exactly once.
final class PrunedStatisticsTests: XCTestCase {
    private func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kb-pruned-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// Records of three playbooks, every outcome and mode, some with detection and resolution
    /// times, over 2026 (one a week); times are multiples of 1/8 so sums do not depend on order.
    static func records() -> [String] {
        let outcomes = ["succeeded", "failed", "rolled_back", "refused", "escalated", "succeeded", "partially_succeeded"]
        let modes = ["automated", "manual", "automated", "chaos"]
        let methods = ["alert", "manual", "anomaly_detection"]
        return (0..<40).map { n in
            let started = String(format: "2026-%02d-%02dT10:00:00.000Z", 1 + n / 4, 1 + (n % 4) * 7)
            let detect = n % 3 == 0 ? "null" : "\(Double(n) / 8)"
            let resolve = n % 5 == 0 ? "" : #","time_to_resolution":\#(Double(n * 3) / 8)"#
            let steps = (0..<(1 + n % 3)).map { s in
                #"{"attempts":1,"name":"step \#(s)","step":\#(s + 1),"succeeded":\#(s != 1 || n % 2 == 0)}"#
            }.joined(separator: ",")
            return #"{"classification":{"affected_components":["api"]},"detection":{"detection_time":"\#(started)","method":"\#(methods[n % 3])","time_to_detect":\#(detect)},"#
                + #""ended_at":"\#(started)","impact":{"services_affected":[]},"incident_id":"i\#(n)","metadata":{"approval_requested":\#(n % 6 == 1),"denied":\#(n % 7 == 2),"escalated":\#(n % 9 == 3)},"#
                + #""mode":"\#(modes[n % 4])","remediation":{"execution_time":\#(Double(n % 11) / 4),"playbook_id":"p\#(n % 3)","playbook_version":"1","steps_executed":[\#(steps)]},"#
                + #""resolution":{"resolution_method":"auto_remediation","verification_passed":true\#(resolve)},"run_id":"r\#(n)","run_outcome":"\#(outcomes[n % 7])","timestamp":"\#(started)","v":1}"#
        }
    }

    private func history(_ dir: String) throws -> KnowledgeBase {
        let knowledge = try KnowledgeBase(directory: dir + "/knowledge")
        _ = try knowledge.appendBatch(Self.records().map { Array($0.utf8) }, to: .incidentHistory)
        return knowledge
    }

    func testTheWholeHistorysFiguresAreTheSameAfterPrunesThatArchiveOrDelete() throws {
        for delete in [false, true] {
            let dir = try directory()
            let knowledge = try history(dir)
            let before = try knowledge.incidentStatistics()
            XCTAssertEqual(before.problems, [])
            XCTAssertEqual(before.statistics.kpis.incidents + before.statistics.kpis.chaosRuns, 40)
            let since = "2026-07-01T00:00:00.000Z"
            let recentBefore = try knowledge.incidentStatistics(since: since).statistics
            let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
            // Two prunes: the ledger adds up entries.
            let first = try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: ["r1"], delete: delete, dryRun: false)
            let second = try archive.prune(startedBefore: "2026-06-01T00:00:00.000Z", keepingRuns: [], delete: delete, dryRun: false)
            XCTAssertEqual(first.pruned, 7)
            XCTAssertEqual(second.pruned, 13)
            let after = try knowledge.incidentStatistics()
            XCTAssertEqual(after.problems, [])
            XCTAssertEqual(after.statistics, before.statistics, "delete: \(delete)")
            XCTAssertEqual(try knowledge.incidentStatistics(since: since).statistics, recentBefore, "a window after the pruned records")
            // A window that starts before every pruned record counts them too.
            XCTAssertEqual(try knowledge.incidentStatistics(since: "2025-01-01T00:00:00.000Z").statistics.kpis, before.statistics.kpis)
            let entries = try PrunedIncidentLedger(knowledgeDirectory: dir + "/knowledge").entries()
            XCTAssertEqual(entries.map(\.records), [7, 13])
            XCTAssertEqual(entries.map(\.pendingHistoryInode), [nil, nil])
        }
    }

    func testADryRunWritesNoLedger() throws {
        let dir = try directory()
        _ = try history(dir)
        let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
        XCTAssertEqual(try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: [], delete: false, dryRun: true).pruned, 8)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/knowledge/" + PrunedIncidentLedger.fileName))
    }

    /// A prune killed after writing its entry: before the history's replacement (the entry's
    /// inode is not the history's) the entry does not count and recovery drops it; after it (the
    /// history is that inode) it counts and recovery keeps it for good.
    func testAMarkedEntryCountsExactlyWhenItsHistoryIsInPlace() throws {
        let dir = try directory()
        let knowledge = try history(dir)
        let whole = try knowledge.incidentStatistics().statistics
        let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
        _ = try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: [], delete: true, dryRun: false)
        let ledger = PrunedIncidentLedger(knowledgeDirectory: dir + "/knowledge")
        let written = try String(contentsOfFile: ledger.path, encoding: .utf8)
        var status = stat()
        XCTAssertEqual(stat(dir + "/knowledge/incident-history.jsonl", &status), 0)
        let inode = UInt64(status.st_ino)

        // Killed between the replacement and the unmarking: counted, then settled.
        let marked = written.replacingOccurrences(of: #""from":"#, with: #""pending_history_inode":\#(inode),"from":"#)
        XCTAssertNotEqual(marked, written)
        try marked.write(toFile: ledger.path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try knowledge.incidentStatistics().statistics, whole)
        XCTAssertEqual(try archive.recover(dryRun: false).count, 1)
        XCTAssertEqual(try ledger.entries().map(\.pendingHistoryInode), [nil])
        XCTAssertEqual(try knowledge.incidentStatistics().statistics, whole)

        // Killed before the replacement (so the records are back in the history): not counted, dropped.
        let pruned = Self.records().filter { $0.contains(#""timestamp":"2026-01"#) || $0.contains(#""timestamp":"2026-02"#) }
        XCTAssertEqual(pruned.count, 8)
        _ = try knowledge.appendBatch(pruned.map { Array($0.utf8) }, to: .incidentHistory)
        let stale = written.replacingOccurrences(of: #""from":"#, with: #""pending_history_inode":\#(inode &+ 999_983),"from":"#)
        try stale.write(toFile: ledger.path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try knowledge.incidentStatistics().statistics.kpis, whole.kpis)
        XCTAssertEqual(try archive.recover(dryRun: false).count, 1)
        XCTAssertEqual(try ledger.entries(), [])
        XCTAssertEqual(try knowledge.incidentStatistics().statistics.kpis, whole.kpis)
    }

    func testALedgerThatIsNotOneIsReportedAndNotCounted() throws {
        let dir = try directory()
        let knowledge = try history(dir)
        let whole = try knowledge.incidentStatistics().statistics
        let ledger = PrunedIncidentLedger(knowledgeDirectory: dir + "/knowledge")
        try "{not json".write(toFile: ledger.path, atomically: true, encoding: .utf8)
        let read = try knowledge.incidentStatistics()
        XCTAssertEqual(read.statistics, whole)
        XCTAssertEqual(read.problems.map(\.path), [ledger.path])
        let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
        XCTAssertThrowsError(try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: [], delete: true, dryRun: false))
        XCTAssertEqual(try knowledge.incidentStatistics().statistics, whole, "a prune that cannot keep the figures prunes nothing")
    }
}
