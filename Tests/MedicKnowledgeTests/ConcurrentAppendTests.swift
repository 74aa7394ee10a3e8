import Foundation
import MedicKnowledge
import XCTest

/// Several processes append to one file at once through the store (`MedicBench
/// kb-append-child`): every line stays whole and none is lost.
final class ConcurrentAppendTests: XCTestCase {
    /// `swift test` runs the test bundle from the build products folder, beside MedicBench.
    static var bench: URL {
        let candidate = Bundle.main.bundleURL.appendingPathComponent("MedicBench")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle(for: Marker.self).bundleURL.deletingLastPathComponent().appendingPathComponent("MedicBench")
    }

    private final class Marker {}

    func testConcurrentAppendersInRealProcessesNeverInterleave() throws {
        let bench = Self.bench
        guard FileManager.default.isExecutableFile(atPath: bench.path) else {
            return XCTFail("MedicBench is not built at \(bench.path) (swift build builds it)")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kb-procs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let processes = 6, count = 150
        let children = (0..<processes).map { index -> Process in
            let process = Process()
            process.executableURL = bench
            process.arguments = ["kb-append-child", "--dir", root.path, "--count", String(count), "--tag", "p\(index)"]
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            return process
        }
        for child in children { try child.run() }
        let deadline = Date().addingTimeInterval(120)
        for child in children {
            while child.isRunning && Date() < deadline { usleep(10_000) }
            if child.isRunning { child.terminate(); XCTFail("an appender did not finish in 120 s") }
            XCTAssertEqual(child.terminationStatus, 0)
        }

        let kb = try KnowledgeBase(directory: root.path, create: false)
        let text = try String(contentsOfFile: kb.path(.incidentHistory), encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"))
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(problems, [])
        XCTAssertEqual(records.count, processes * count)
        var seen: [String: Set<Int>] = [:]
        for record in records {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(record)) as? [String: Any])
            let tag = try XCTUnwrap(object["tag"] as? String), index = try XCTUnwrap(object["i"] as? Int)
            let pad = try XCTUnwrap(object["pad"] as? String)
            XCTAssertEqual(pad, String(repeating: "x", count: index % 3 == 0 ? 5000 : 20))
            seen[tag, default: []].insert(index)
        }
        XCTAssertEqual(seen, Dictionary(uniqueKeysWithValues: (0..<processes).map { ("p\($0)", Set(0..<count)) }))
    }

    /// A file size limit (RLIMIT_FSIZE, as a full disk) stops an append part-way: the write is
    /// short, the file is cut back to its whole lines, and the appender says why.
    func testAShortWriteIsCutBackToWholeLines() throws {
        let bench = Self.bench
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kb-full-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let limit = 20_000
        let errors = root.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Python ignores SIGXFSZ, and exec keeps it ignored: the write returns short instead.
        let setLimit = "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (\(limit), \(limit))); os.execv(sys.argv[1], sys.argv[1:])"
        process.arguments = ["python3", "-c", setLimit, bench.path, "kb-append-child", "--dir", root.path, "--count", "100", "--tag", "full"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        let message = try String(contentsOf: errors, encoding: .utf8)
        XCTAssertTrue(message.contains("cannot append to \(root.path)/incident-history.jsonl: only "), message)

        let kb = try KnowledgeBase(directory: root.path, create: false)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: kb.path(.incidentHistory))[.size] as? Int)
        XCTAssertLessThan(size, limit)
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(problems, [])
        // Records 0-8 fit (three of about 5 KB); record 9 (5 KB) would have crossed the limit.
        XCTAssertEqual(records.count, 9)
        XCTAssertFalse(FileManager.default.fileExists(atPath: kb.quarantinePath(.incidentHistory)))
    }
}
