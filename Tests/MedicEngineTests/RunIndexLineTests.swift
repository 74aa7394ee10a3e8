import Foundation
@testable import MedicEngine
import XCTest

/// A line of `runs/.index` read back is the entry written, whatever its text holds; a line with
/// a changed byte, a CRC spelled otherwise or the wrong number of fields is no entry.
final class RunIndexLineTests: XCTestCase {
    private func entries() -> [RunIndexEntry] {
        let plain = RunSummary(id: "20261123-101500-3f9a1c0d", playbookID: "disk-full", playbookVersion: "1.2.0",
                               startedAt: "2026-11-23T10:15:00.000Z", updatedAt: "2026-11-23T10:15:03.250Z", status: .finished,
                               outcome: .succeeded, journal: "", targets: ["web-1", "db/primary"], actions: ["shell"])
        var odd = plain
        odd.id = "run_1.a-B"
        odd.playbookID = "tab\there, comma % percent\nline\r ✓ é 😀"
        odd.playbookVersion = ""
        odd.status = .damaged
        odd.outcome = nil
        odd.damage = "runs/x.jsonl:3: checksum mismatch, \"quoted\""
        odd.targets = ["", "a,b", "%41", "ü"]
        odd.actions = []
        var claim = plain
        claim.status = .running
        claim.outcome = nil
        claim.targets = []
        return [
            RunIndexEntry(summary: plain, stamp: JournalStamp(size: 1234, seconds: 1_764_000_000, nanoseconds: 999_999_999)),
            RunIndexEntry(summary: odd, stamp: JournalStamp(size: 0, seconds: -5, nanoseconds: 0), clean: false),
            RunIndexEntry(summary: plain, stamp: JournalStamp(size: Int64.max, seconds: 1, nanoseconds: 2), racy: true),
            RunIndexEntry(summary: claim, stamp: nil),
            RunIndexEntry(summary: plain, stamp: JournalStamp(size: 1, seconds: 2, nanoseconds: 3), removed: true),
        ]
    }

    func testEveryEntryReadsBackAsWritten() throws {
        for entry in entries() {
            let line = RunIndexFormat.line(entry)
            XCTAssertEqual(line.last, UInt8(ascii: "\n"))
            XCTAssertEqual(RunIndexFormat.entry(line.dropLast()), entry, String(decoding: line, as: UTF8.self))
        }
        let all = entries().flatMap(RunIndexFormat.line)
        let read = try XCTUnwrap(RunIndexFormat.entries(all[...]))
        XCTAssertEqual(read.entries, entries())
        XCTAssertFalse(read.torn)
    }

    func testTheLatestEntriesAreEachRunsLastLine() throws {
        var later = entries()
        later[0].summary.status = .interrupted
        later[0].summary.outcome = nil
        later[1].summary.playbookVersion = "2"
        let lines = entries() + [later[1], later[0]]
        // Each run's last line, in the order of those lines, as reading every line says.
        func expected(_ written: [RunIndexEntry]) -> [RunIndexEntry] {
            var last: [String: Int] = [:]
            for (n, entry) in written.enumerated() { last[entry.summary.id] = n }
            return last.values.sorted().map { written[$0] }
        }
        let bytes = lines.flatMap(RunIndexFormat.line)
        let latest = try XCTUnwrap(RunIndexFormat.latestEntries(bytes[...]))
        XCTAssertEqual(latest.entries, expected(lines))
        XCTAssertEqual(latest.entries.count, 2, "two runs")
        XCTAssertEqual(latest.entries.last, later[0])
        XCTAssertEqual(latest.lines, 7)
        XCTAssertFalse(latest.torn)
        let cut = try XCTUnwrap(RunIndexFormat.latestEntries(bytes.dropLast(5)))
        XCTAssertEqual(cut.entries, expected(Array(lines.dropLast())))
        XCTAssertEqual(cut.lines, 6)
        XCTAssertTrue(cut.torn)
        var changed = bytes
        changed[10] ^= 0x01
        XCTAssertNil(RunIndexFormat.latestEntries(changed[...]), "an earlier line changed is damage too")
    }

    func testEveryLineIsCheckedWhereverTheIndexStartsInItsBuffer() throws {
        let lines = entries()
        let bytes = lines.flatMap(RunIndexFormat.line)
        // A slice that does not start at the array's start, as a tail read after a position is.
        let padded = Array("junk".utf8) + bytes
        let read = try XCTUnwrap(RunIndexFormat.latestEntries(padded[4...]))
        XCTAssertEqual(read.entries, try XCTUnwrap(RunIndexFormat.latestEntries(bytes[...])).entries)
        XCTAssertEqual(read.lines, lines.count)
        for position in bytes.indices where bytes[position] != UInt8(ascii: "\n") {
            var changed = padded
            changed[position + 4] ^= 0x01
            XCTAssertNil(RunIndexFormat.latestEntries(changed[4...]), "byte \(position) changed")
        }
    }

    func testALineChangedOrSpelledOtherwiseIsNoEntry() throws {
        let line = Array(RunIndexFormat.line(entries()[1]).dropLast())
        for position in line.indices {
            var changed = line
            changed[position] ^= 0x01
            XCTAssertNil(RunIndexFormat.entry(changed[...]), "byte \(position) changed")
            XCTAssertNil(RunIndexFormat.entry(line[..<position]), "cut at \(position)")
        }
        // The CRC in capitals, or a field more or fewer (re-sealed), is not the format either.
        let body = Array(line.dropLast(9))
        let upper = body + Array("\t".utf8) + Array(String(JournalChecksum.crc32c(body), radix: 16).leftPadded(to: 8).uppercased().utf8)
        if upper != line { XCTAssertNil(RunIndexFormat.entry(upper[...])) }
        for other in [body + Array("\tx".utf8), Array(body[..<body.lastIndex(of: UInt8(ascii: "\t"))!])] {
            let sealed = other + Array("\t".utf8) + Array(String(JournalChecksum.crc32c(other), radix: 16).leftPadded(to: 8).utf8)
            XCTAssertNil(RunIndexFormat.entry(sealed[...]))
        }
        XCTAssertNotNil(RunIndexFormat.entry(line[...]))
    }

    func testOnlyTheFormatsOwnRunIDsAndNumbersAreRead() {
        for id in ["a", "20261123-101500-3f9a1c0d", "A_b.c-9", String(repeating: "x", count: 100)] {
            XCTAssertTrue(RunIndexFormat.isValidRunID(Array(id.utf8)[...]), id)
            XCTAssertEqual(RunIndexFormat.isValidRunID(Array(id.utf8)[...]), RunStore.isValidRunID(id))
        }
        for id in ["", ".hidden", "a/b", "é", "a b", String(repeating: "x", count: 101), "a%41"] {
            XCTAssertFalse(RunIndexFormat.isValidRunID(Array(id.utf8)[...]), id)
            XCTAssertEqual(RunIndexFormat.isValidRunID(Array(id.utf8)[...]), RunStore.isValidRunID(id))
        }
        for text in ["0", "42", "-7", "+7", "", "-", "1x", " 1", "999999999999999999", "9999999999999999999", "99999999999999999999"] {
            XCTAssertEqual(RunIndexFormat.number(Array(text.utf8)[...]), Int(text), text)
        }
    }
}
