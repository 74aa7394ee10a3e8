@testable import MedicEngine
import XCTest

/// A `runs/` folder's names sorted out from their bytes: journals, marks and creations of valid
/// run ids, nothing else; read from a real folder as from a list.
final class RunsFolderTests: XCTestCase {
    private let names = ["a.jsonl", "a.lock", "a.recorded", "b.creating", "b.lock", "c.jsonl", "c.torn", ".index", ".index.lock",
                         ".x.jsonl", "bad id.jsonl", "d.jsonl.tmp", ".jsonl", "e.recorded", "é.jsonl", "f.JSONL"]

    private func check(_ folder: RunsFolder, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(folder.journals.sorted(), ["a", "c"], file: file, line: line)
        XCTAssertEqual(folder.creating, ["b"], file: file, line: line)
        XCTAssertTrue(folder.has(.recorded, "a"), file: file, line: line)
        XCTAssertTrue(folder.has(.recorded, "e"), file: file, line: line)
        XCTAssertFalse(folder.has(.recorded, "c"), file: file, line: line)
        XCTAssertFalse(folder.has(.journal, "b"), file: file, line: line)
        XCTAssertFalse(folder.has(.journal, "x"), file: file, line: line)
    }

    func testNamesAreSortedOutByKind() {
        check(RunsFolder(names: names))
    }

    func testAFolderIsReadAsItsNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runs-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in names { XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: nil)) }
        check(RunsFolder(reading: dir.path))
        XCTAssertEqual(RunsFolder(reading: dir.path + "/missing").journals, [])
    }

    func testAStampingReadGivesEachJournalItsStampAsStatGivesIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runs-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (index, name) in names.enumerated() {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path,
                                                        contents: Data(repeating: 0x41, count: index)))
        }
        let folder = RunsFolder.Reading(dir.path).wait()
        check(folder)
        let stamps = Dictionary(uniqueKeysWithValues: folder.stampedJournals.map { ($0.id, $0.stamp) })
        XCTAssertEqual(stamps.count, 2)
        for id in ["a", "c"] {
            let stamp = try XCTUnwrap(stamps[id] ?? nil)
            XCTAssertEqual(stamp, JournalStamp.of(dir.appendingPathComponent(id + ".jsonl").path))
        }
        XCTAssertNotEqual(stamps["a"]??.size, stamps["c"]??.size)
        XCTAssertTrue(RunsFolder(reading: dir.path).stampedJournals.allSatisfy { $0.stamp == nil })
    }

    /// Many journals: the reading thread and the waiting one share the stamps (a few at a time
    /// each); every journal gets its own, as `stat` gives it, whichever thread took it.
    func testAStampingReadOfManyJournalsGivesEachItsOwnStamp() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runs-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let count = 1500
        for index in 0..<count {
            let id = "20261207-0700\(String(format: "%02d", index % 60))-\(String(format: "%08x", index))"
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(id + ".jsonl").path,
                                                        contents: Data(repeating: 0x41, count: index)))
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(id + ".lock").path, contents: nil))
        }
        for _ in 0..<3 {
            let folder = RunsFolder.Reading(dir.path).wait()
            XCTAssertTrue(folder.stamped)
            XCTAssertEqual(folder.journals.count, count)
            XCTAssertEqual(Set(folder.journals).count, count)
            for (id, stamp) in folder.stampedJournals {
                let index = try XCTUnwrap(Int(id.suffix(8), radix: 16))
                XCTAssertEqual(stamp?.size, Int64(index), id)
                XCTAssertEqual(stamp, JournalStamp.of(dir.appendingPathComponent(id + ".jsonl").path), id)
            }
            // Read and stamped on the caller's thread alone: the same stamps.
            let alone = RunsFolder(reading: dir.path, stamping: true).stampedJournals
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: alone.map { ($0.id, $0.stamp) }),
                           Dictionary(uniqueKeysWithValues: folder.stampedJournals.map { ($0.id, $0.stamp) }))
        }
    }
}
