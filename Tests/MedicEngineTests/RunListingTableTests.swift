import Foundation
@testable import MedicEngine
import XCTest

/// `medic runs`' table is written byte by byte when its cells are printable ASCII: it must be
/// the table `paddedTable` pads by characters, byte for byte, and anything else must be left to
/// `paddedTable`.
final class RunListingTableTests: XCTestCase {
    private let plain = RunSummary(id: "20261123-101500-3f9a1c0d", playbookID: "disk-full", playbookVersion: "1.2.0",
                                   startedAt: "2026-11-23T10:15:00.000Z", updatedAt: "2026-11-23T10:15:03.250Z", status: .finished,
                                   outcome: .succeeded, journal: "/var/lib/medic/runs/20261123-101500-3f9a1c0d.jsonl")

    func testThePrintableTableIsThePaddedOneByteForByte() throws {
        var short = plain
        short.id = "r"
        short.playbookID = "p"
        short.playbookVersion = ""
        short.outcome = nil
        short.status = .pendingApproval
        var long = plain
        long.id = "20261123-101500-3f9a1c0d-and-a-much-longer-id_with.dots"
        long.playbookID = "a-playbook-with-a-long-name ~!@#$%^&*()"
        long.playbookVersion = "10.200.3000-beta+build.7"
        long.outcome = .rollbackFailed
        var damaged = plain
        damaged.playbookID = "?"
        damaged.playbookVersion = "?"
        damaged.startedAt = ""
        damaged.outcome = nil
        damaged.status = .damaged
        let lists: [[RunSummary]] = [[plain], [short], [long], [damaged], [plain, short, long, damaged, plain], [short, short]]
        for runs in lists {
            let fast = try XCTUnwrap(RunRenderer.printableTable(runs))
            XCTAssertEqual(Array(fast.utf8), Array(RunRenderer.paddedTable(runs).utf8), "fast:\n\(fast)\npadded:\n\(RunRenderer.paddedTable(runs))")
            XCTAssertEqual(RunRenderer.list(runs), fast)
            XCTAssertEqual(RunRenderer.listBytes(runs), Array(fast.utf8))
        }
        for outcome in RunOutcome.allCases {
            var run = plain
            run.outcome = outcome
            XCTAssertEqual(RunRenderer.printableTable([run]), RunRenderer.paddedTable([run]))
        }
        XCTAssertEqual(RunRenderer.list([]), "No runs yet.\n")
        XCTAssertEqual(RunRenderer.listBytes([]), Array("No runs yet.\n".utf8))
    }

    func testACellThatIsNotPrintableASCIIIsLeftToThePaddedTable() {
        // A character of several bytes, a pair that is one character (CR LF), a tab, a control byte.
        for odd in ["é", "😀 日本", "a\r\nb", "tab\there", "\u{7F}", "\u{1}"] {
            for field in 0..<4 {
                var run = plain
                switch field {
                case 0: run.id = odd
                case 1: run.playbookID = odd
                case 2: run.playbookVersion = odd
                default: run.startedAt = odd
                }
                let runs = [run, plain]
                XCTAssertNil(RunRenderer.printableTable(runs), "\(odd.debugDescription) in field \(field)")
                XCTAssertEqual(RunRenderer.list(runs), RunRenderer.paddedTable(runs))
                XCTAssertEqual(RunRenderer.listBytes(runs), Array(RunRenderer.paddedTable(runs).utf8))
            }
        }
    }
}
