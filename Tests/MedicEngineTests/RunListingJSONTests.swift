import Foundation
@testable import MedicEngine
import XCTest

/// `medic runs --json` is written without the encoder: it must print exactly what
/// `OutputJSON.render` prints, byte for byte, and know every field of RunSummary.
final class RunListingJSONTests: XCTestCase {
    func testAnErrorOfTheWriterStopsTheListing() {
        let run = RunSummary(id: "r", playbookID: "p", playbookVersion: "1", startedAt: "", updatedAt: "", status: .running,
                             outcome: nil, journal: "")
        struct Closed: Error {}
        var calls = 0
        XCTAssertThrowsError(try RunRenderer.writeRunsJSON(Array(repeating: run, count: 50), chunk: 10) { _ in
            calls += 1
            if calls == 2 { throw Closed() }
        })
        XCTAssertEqual(calls, 2)
    }

    func testEveryFieldOfRunSummaryIsWritten() {
        let summary = RunSummary(id: "r", playbookID: "p", playbookVersion: "1", startedAt: "", updatedAt: "", status: .running,
                                 outcome: nil, journal: "")
        let fields = Set(Mirror(reflecting: summary).children.compactMap(\.label))
        XCTAssertEqual(fields, RunRenderer.runsJSONFields,
                       "RunSummary's fields changed: teach RunRenderer.runsJSON the new one, and its list")
    }

    func testTheFastListingAndTheEncoderAgreeByteForByte() {
        let plain = RunSummary(id: "20261123-101500-3f9a1c0d", playbookID: "disk-full", playbookVersion: "1.2.0",
                               startedAt: "2026-11-23T10:15:00.000Z", updatedAt: "2026-11-23T10:15:03.250Z", status: .finished,
                               outcome: .succeeded, journal: "/var/lib/medic/runs/20261123-101500-3f9a1c0d.jsonl",
                               targets: ["web-1.example.com", "db/primary"], actions: ["shell", "http"])
        var bare = plain
        bare.id = "20261123-101600-00000000"
        bare.outcome = nil
        bare.status = .pendingApproval
        bare.targets = []
        bare.actions = []
        var damaged = plain
        damaged.status = .damaged
        damaged.playbookID = "?"
        damaged.playbookVersion = "?"
        damaged.updatedAt = ""
        damaged.outcome = nil
        damaged.damage = "/tmp/x/runs/a.jsonl:3: checksum mismatch \"quoted\" \\ back"
        damaged.targets = ["only"]
        damaged.actions = []
        var odd = plain
        odd.id = "run ✓ é"
        odd.playbookID = "tab\there, comma\nnew line\r\u{0}\u{1}\u{1B}\u{1F}\u{7F}"
        odd.playbookVersion = "\u{8}\u{C}/slash/ \u{2028}\u{2029}\u{FEFF}😀 日本"
        odd.journal = "/päth with spaces/\"q\".jsonl"
        odd.outcome = .rollbackFailed
        odd.status = .interrupted
        odd.targets = ["", "a\"b", "ü"]
        odd.actions = ["\\"]
        let lists: [[RunSummary]] = [[], [plain], [bare], [damaged], [odd], [plain, bare, damaged, odd, plain]]
        for runs in lists {
            let fast = RunRenderer.runsJSON(runs)
            let encoded = RunRenderer.json(runs)
            XCTAssertEqual(Array(fast.utf8), Array(encoded.utf8), "fast:\n\(fast)\nencoder:\n\(encoded)")
            XCTAssertEqual(RunRenderer.runsJSONBytes(runs), Array(encoded.utf8))
            // Written a piece at a time, as `medic runs --json` writes it: the same bytes
            // whatever the pieces' size, none empty, each ending at a run's end or the last.
            for chunk in [1, 7, 400, 1 << 16] {
                var pieces: [[UInt8]] = []
                RunRenderer.writeRunsJSON(runs, chunk: chunk) { pieces.append($0) }
                XCTAssertEqual(pieces.flatMap { $0 }, Array(encoded.utf8), "chunk \(chunk)")
                XCTAssertFalse(pieces.contains { $0.isEmpty }, "chunk \(chunk)")
                if chunk == 1 { XCTAssertEqual(pieces.count, runs.isEmpty ? 1 : runs.count + 1, "a piece a run, then the end") }
                XCTAssertTrue(pieces.dropLast().allSatisfy { $0.count >= chunk && $0.last == UInt8(ascii: "}") }, "chunk \(chunk)")
            }
        }
        for outcome in RunOutcome.allCases {
            var run = plain
            run.outcome = outcome
            XCTAssertEqual(RunRenderer.runsJSON([run]), RunRenderer.json([run]))
        }
        for status in [RunStatus.running, .finished, .interrupted, .pendingApproval, .damaged] {
            var run = bare
            run.status = status
            XCTAssertEqual(RunRenderer.runsJSON([run]), RunRenderer.json([run]))
        }
    }
}
