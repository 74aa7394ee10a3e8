import Foundation
@testable import MedicKnowledge
import XCTest

final class ImmuneMemoryDocumentTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)

    private func knowledgeBase() throws -> KnowledgeBase {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-immune-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try KnowledgeBase(directory: dir.path)
    }

    private func sample() -> ImmuneMemory {
        var memory = ImmuneMemory()
        let a = FaultSignature(faultType: "network-partition", components: ["storage", "api"], pattern: "network-partition:storage:3-nodes")
        let b = FaultSignature(faultType: "oom", components: [], pattern: "oom")
        _ = memory.learn(RemediationOutcome(signature: a, actions: [RemediationAction(playbookID: "pb-1", action: "reroute", priority: 1, timeout: 12.5)],
                                            succeeded: true, origin: .chaosExperiment, originID: "exp-7"), at: start)
        _ = memory.learn(RemediationOutcome(signature: a, actions: [], succeeded: false, origin: .run, originID: "run-1"), at: start + 0.25)
        _ = memory.learn(RemediationOutcome(signature: b, actions: [RemediationAction(playbookID: "pb-2", action: "restart", priority: 0)],
                                            succeeded: true, origin: .run), at: start + 60)
        _ = memory.match(a, at: start + 91 * 86_400)
        return memory
    }

    func testRoundTrip() throws {
        let kb = try knowledgeBase()
        XCTAssertEqual(try ImmuneMemoryDocument.load(from: kb, at: start).memory, ImmuneMemory(), "never saved: empty")
        let memory = sample()
        try ImmuneMemoryDocument.save(memory, to: kb)
        let (loaded, changes) = try ImmuneMemoryDocument.load(from: kb, at: start)
        XCTAssertEqual(loaded, memory)
        XCTAssertEqual(changes, [])
        XCTAssertEqual(loaded.entries.first { $0.signature.faultType == "network-partition" }?.lastDecayed, start + 91 * 86_400)
        let text = try String(contentsOfFile: ImmuneMemoryDocument.path(in: kb), encoding: .utf8)
        XCTAssertTrue(text.contains("\"success_rate\""))
        XCTAssertTrue(text.contains("\"last_applied\" : \"2027-01-15T08:00:00.250Z\""), text)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: kb.directory).filter { $0.contains(".new-") }
        XCTAssertEqual(leftovers, [])
    }

    func testLoadingBeyondCapacityEvictsTheLeastRecentlyApplied() throws {
        let kb = try knowledgeBase()
        try ImmuneMemoryDocument.save(sample(), to: kb)
        let (loaded, changes) = try ImmuneMemoryDocument.load(from: kb, capacity: 1, at: start)
        XCTAssertEqual(loaded.entries.map(\.signature.faultType), ["oom"])
        XCTAssertEqual(changes.map(\.kind), [.evicted])
    }

    func testCorruptFileIsAClearErrorAndIsLeftAlone() throws {
        let kb = try knowledgeBase()
        let path = ImmuneMemoryDocument.path(in: kb)
        for corrupt in ["{\"format\": 1, \"entries\": [", "[]", "{\"format\": 1, \"entries\": [{\"observations\": 1}]}"] {
            try corrupt.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ImmuneMemoryDocument.load(from: kb, at: start)) { error in
                let message = (error as? KnowledgeError)?.description ?? "\(error)"
                XCTAssertTrue(message.contains("the immune memory \(path) is corrupt"), message)
                XCTAssertTrue(message.contains("left as it is"), message)
            }
            XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), corrupt)
        }
    }

    func testEditedSignatureIdIsRefused() throws {
        let kb = try knowledgeBase()
        try ImmuneMemoryDocument.save(sample(), to: kb)
        let path = ImmuneMemoryDocument.path(in: kb)
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"oom\"", with: "\"OOM\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ImmuneMemoryDocument.load(from: kb, at: start)) { error in
            XCTAssertTrue("\(error)".contains("is not the SHA-256 of its fields"), "\(error)")
        }
    }

    func testUnknownFormatIsRefused() throws {
        let kb = try knowledgeBase()
        try "{\"format\": 2, \"entries\": []}".write(toFile: ImmuneMemoryDocument.path(in: kb), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ImmuneMemoryDocument.load(from: kb, at: start)) { error in
            XCTAssertTrue("\(error)".contains("format 2"), "\(error)")
        }
    }

    /// The cache serves the memory while the document is the same file, and reads it again once
    /// another writer (without this cache) replaced it.
    func testACacheIsUsedOnlyWhileTheDocumentIsUnchanged() throws {
        let kb = try knowledgeBase()
        let cache = ImmuneMemoryCache()
        func lesson(_ type: String) -> RemediationOutcome {
            RemediationOutcome(signature: FaultSignature(faultType: type, components: [], pattern: "\(type):x"),
                               actions: [RemediationAction(playbookID: "pb", action: "a", priority: 1)], succeeded: true, origin: .run)
        }
        _ = try ImmuneMemoryDocument.update(in: kb, at: start, cache: cache) { memory in ((), memory.learn(lesson("a"), at: start)) }
        XCTAssertEqual(try ImmuneMemoryDocument.read(from: kb, at: start, cache: cache).count, 1)
        // Another process (no cache) learns b: the document is replaced (a new inode).
        _ = try ImmuneMemoryDocument.update(in: kb, at: start) { memory in ((), memory.learn(lesson("b"), at: start)) }
        XCTAssertEqual(try ImmuneMemoryDocument.read(from: kb, at: start, cache: cache).count, 2, "the cache saw the file change")
        _ = try ImmuneMemoryDocument.update(in: kb, at: start, cache: cache) { memory in ((), memory.learn(lesson("c"), at: start)) }
        XCTAssertEqual(try ImmuneMemoryDocument.load(from: kb, at: start).memory.count, 3, "b was not lost to a stale cache")
        XCTAssertEqual(try ImmuneMemoryDocument.read(from: kb, at: start, cache: cache).count, 3)
    }
}
