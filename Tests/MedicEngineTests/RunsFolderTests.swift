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

    /// A name given twice (as `readdir` may give one when the folder changes while it is read)
    /// is one journal.
    func testANameGivenTwiceIsOneJournal() {
        let folder = RunsFolder(names: ["a.jsonl", "a.lock", "a.jsonl", "b.jsonl", "a.recorded", "a.jsonl"])
        XCTAssertEqual(folder.journals, ["a", "b"])
        XCTAssertEqual(folder.journalsWithoutMark, ["b"])
    }

    /// The stamps taken by several threads at once: each journal's own, none left out.
    func testStampsTakenBySeveralThreadsAtOnceAreEachJournalsOwn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("runs-folder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids = (0..<1000).map { "20261207-0800\(String(format: "%02d", $0 % 60))-\(String(format: "%08x", $0))" }
        for (index, id) in ids.enumerated() {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(id + ".jsonl").path,
                                                        contents: Data(repeating: 0x41, count: index)))
        }
        let folder = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(folder, 0)
        defer { close(folder) }
        for _ in 0..<5 {
            let stamps = RunsFolder.Stamps(ids, folder: folder)
            DispatchQueue.concurrentPerform(iterations: 4) { _ in stamps.take() }
            XCTAssertEqual(stamps.all.map { $0?.size }, ids.indices.map { Int64($0) })
            XCTAssertEqual(stamps.all, ids.map { JournalStamp.of(dir.appendingPathComponent($0 + ".jsonl").path) })
        }
        // Waited for by two threads at once: the same folder for both, every journal stamped.
        final class Given: @unchecked Sendable {
            let lock = NSLock()
            var folders: [RunsFolder] = []
        }
        let given = Given()
        let reading = RunsFolder.Reading(dir.path)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let folder = reading.wait()
            given.lock.withLock { given.folders.append(folder) }
        }
        XCTAssertEqual(given.folders.count, 2)
        let sizes = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, Int64($0.offset)) })
        for folder in given.folders {
            XCTAssertEqual(folder.journals.count, ids.count)
            XCTAssertTrue(folder.stampedJournals.allSatisfy { $0.stamp != nil && $0.stamp?.size == sizes[$0.id] })
        }
    }
}
