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
        let children = try (0..<processes).map { index -> Process in
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
}
