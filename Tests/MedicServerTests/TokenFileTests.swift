import Foundation
import XCTest

/// `medic token create` on one tokens file from several processes at once.
final class TokenFileTests: XCTestCase {
    func testConcurrentTokenCreatesKeepEveryEntry() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let names = (1...8).map { "person\($0)" }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: names.count) { index in
            do {
                let (status, stderr) = try MedicCommand.status(["token", "create", names[index], "--role", "viewer", "--tokens", "tokens.jsonl"], in: dir)
                if status != 0 { failures.add("\(names[index]): exit \(status): \(stderr)") }
            } catch {
                failures.add("\(names[index]): \(error)")
            }
        }
        XCTAssertEqual(failures.all, [])
        let text = try String(contentsOf: dir.appendingPathComponent("tokens.jsonl"), encoding: .utf8)
        let stored = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(Set(stored.compactMap { $0["name"] as? String }), Set(names), "every token printed is in the file: \(text)")
        let mode = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("tokens.jsonl").path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }
}

private final class Failures: @unchecked Sendable {  // `items` only under `lock`
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
