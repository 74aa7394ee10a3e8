import Foundation
import MedicKnowledge
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The knowledge-base half of `medic prune`: records moved out of the history byte for byte,
/// a killed prune finished by the next, and appends that raced the replacement kept.
final class IncidentHistoryArchiveTests: XCTestCase {
    private func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kb-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    private func record(_ id: String, started: String) -> String {
        #"{"classification":{"affected_components":[]},"detection":{"detection_time":"\#(started)","method":"manual"},"#
            + #""ended_at":"\#(started)","impact":{"services_affected":[]},"incident_id":"\#(id)","metadata":{"approval_requested":false,"denied":false,"escalated":false},"#
            + #""mode":"manual","remediation":{"execution_time":1,"playbook_id":"p","playbook_version":"1","steps_executed":[]},"#
            + #""resolution":{"resolution_method":"auto_remediation","verification_passed":true},"run_id":"\#(id)","run_outcome":"succeeded","timestamp":"\#(started)","v":1}"#
    }

    func testMovesOldRecordsByteForByteAndKeepsEverythingElse() throws {
        let dir = try directory()
        let knowledge = try KnowledgeBase(directory: dir + "/knowledge")
        let lines = [record("a", started: "2026-01-01T00:00:00.000Z"), #"{"not":"a record"}"#,
                     record("b", started: "2026-02-01T00:00:00.000Z"), record("c", started: "2026-06-01T00:00:00.000Z")]
        for line in lines { _ = try knowledge.append(Array(line.utf8), to: .incidentHistory) }
        let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
        let dry = try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: ["a"], delete: false, dryRun: true)
        XCTAssertEqual(dry.pruned, 1)
        let history = dir + "/knowledge/incident-history.jsonl"
        XCTAssertEqual(try String(contentsOfFile: history, encoding: .utf8), lines.joined(separator: "\n") + "\n", "a dry run writes nothing")
        let done = try archive.prune(startedBefore: "2026-03-01T00:00:00.000Z", keepingRuns: ["a"], delete: false, dryRun: false)
        XCTAssertEqual(done, dry)
        XCTAssertEqual(try String(contentsOfFile: history, encoding: .utf8), [lines[0], lines[1], lines[3]].joined(separator: "\n") + "\n")
        XCTAssertEqual(done.segment, dir + "/archive/incident-history.until-20260201T000000.000Z.jsonl")
        XCTAssertEqual(try String(contentsOfFile: try XCTUnwrap(done.segment), encoding: .utf8), lines[2] + "\n")
    }

    func testAPendingSegmentIsCompletedOrRemovedByWhatTheHistoryHolds() throws {
        let dir = try directory()
        let knowledge = try KnowledgeBase(directory: dir + "/knowledge")
        _ = try knowledge.appendBatch([Array(record("kept", started: "2026-06-01T00:00:00.000Z").utf8),
                                       Array(record("live", started: "2026-01-01T00:00:00.000Z").utf8)], to: .incidentHistory)
        try FileManager.default.createDirectory(atPath: dir + "/archive", withIntermediateDirectories: true)
        // Killed before the history was replaced: the records are still there; the segment goes.
        try (record("live", started: "2026-01-01T00:00:00.000Z") + "\n").write(toFile: dir + "/archive/s1.jsonl.pending", atomically: true, encoding: .utf8)
        // Killed after: the records left the history; the segment is completed.
        try (record("gone", started: "2025-01-01T00:00:00.000Z") + "\n").write(toFile: dir + "/archive/s2.jsonl.pending", atomically: true, encoding: .utf8)
        let archive = IncidentHistoryArchive(knowledgeDirectory: dir + "/knowledge", archiveDirectory: dir + "/archive")
        XCTAssertEqual(try archive.recover(dryRun: true).count, 2)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/archive")), ["s1.jsonl.pending", "s2.jsonl.pending"])
        _ = try archive.recover(dryRun: false)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/archive")), ["s2.jsonl"])
    }

    /// An appender that opened the history before a prune replaced it, and waited for the lock
    /// meanwhile, writes to the new file: its record is not lost in the old one.
    func testAnAppendWaitingDuringTheReplacementLandsInTheNewFile() throws {
        let dir = try directory()
        let knowledge = try KnowledgeBase(directory: dir + "/knowledge")
        let history = dir + "/knowledge/incident-history.jsonl"
        _ = try knowledge.append(Array(#"{"n":1}"#.utf8), to: .incidentHistory)
        // Hold the writers' lock as a prune does.
        let held = open(history, O_RDWR | O_CLOEXEC)
        XCTAssertEqual(flock(held, LOCK_EX), 0)
        let appended = DispatchSemaphore(value: 0)
        let knowledgeDirectory = dir + "/knowledge"
        Thread.detachNewThread {
            _ = try? KnowledgeBase(directory: knowledgeDirectory).append(Array(#"{"n":2}"#.utf8), to: .incidentHistory)
            appended.signal()
        }
        // Wait (bounded) until the appender has the old file open: a second descriptor on it.
        var inode = stat()
        fstat(held, &inode)
        let deadline = Date().addingTimeInterval(60)
        while openDescriptors(of: inode) < 2 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(openDescriptors(of: inode), 2, "the appender opened the history")
        try (#"{"n":1}"# + "\n").write(toFile: history + ".new", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(history + ".new", history), 0)
        flock(held, LOCK_UN)
        close(held)
        XCTAssertEqual(appended.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(try String(contentsOfFile: history, encoding: .utf8), #"{"n":1}"# + "\n" + #"{"n":2}"# + "\n")
    }

    private func openDescriptors(of file: stat) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            var info = stat()
            return stat("/proc/self/fd/" + fd, &info) == 0 && info.st_ino == file.st_ino && info.st_dev == file.st_dev
        }.count
    }
}
