import Foundation
import MedicEngine
import XCTest

/// Target locks for any target name: long ones, non-ASCII ones, and names an escaping could
/// confuse each get a lock of their own, and the holder file keeps the whole name.
final class TargetLockTests: XCTestCase {
    private func locks() -> TargetLocks {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-locks-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return TargetLocks(stateDirectory: dir.path)
    }

    func testLongTargetNamesCanBeLockedAndKeepTheirWholeNameInTheHolder() async throws {
        let locks = locks()
        let names = [String(repeating: "x", count: 300), String(repeating: "é", count: 200),
                     String(repeating: "x", count: 299) + "y", String(repeating: "🦀", count: 300)]
        let lease = try await locks.acquire(names, run: "run-a", now: Date())
        XCTAssertEqual(lease.names, names)
        let holders = locks.holders(of: names)
        XCTAssertEqual(holders.map { $0.holder?.run }, Array(repeating: "run-a", count: names.count), "each name is held")
        XCTAssertEqual(holders.map { $0.holder?.target }, names, "the holder file keeps the whole name")
        let files = try FileManager.default.contentsOfDirectory(atPath: locks.directory)
        XCTAssertEqual(files.count, names.count, "one file per name: \(files)")
        XCTAssertTrue(files.allSatisfy { $0.utf8.count <= 255 }, "\(files.map(\.utf8.count))")
        XCTAssertTrue(files.contains { $0.hasPrefix("xxxx") }, "a long name keeps a readable prefix: \(files)")
        // Held means held: another run cannot take one of them.
        do {
            _ = try await locks.acquire([names[2]], run: "run-b", now: Date())
            XCTFail("a held long name was taken twice")
        } catch {
            XCTAssertTrue("\(error)".contains("run-a"), "\(error)")
        }
    }

    func testNamesThatEscapeAlikeAreDistinctLocks() async throws {
        let locks = locks()
        // U+0010 then "0" and U+0100 were both "%100" when escaping by scalar value; "a/b" and
        // "a%2Fb" must differ too, and a leading dot must not make a hidden or relative name.
        let pairs = [("\u{10}0", "\u{100}"), ("a/b", "a%2Fb"), (".", "%2E"), ("..", "%2E.")]
        for (first, second) in pairs {
            let lease = try await locks.acquire([first], run: "first", now: Date())
            let other = try await locks.acquire([second], run: "second", now: Date())
            XCTAssertEqual(locks.holders(of: [first, second]).map { $0.holder?.run }, ["first", "second"], "\(first) / \(second)")
            _ = (lease, other)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: locks.directory)
        XCTAssertFalse(files.contains { $0.hasPrefix(".") && $0 != "." }, "\(files)")
    }
}
