import Foundation
import MedicServeTestKit
import MedicServer
import XCTest

/// A batch of openings the log of openings refuses is refused whole and for good: its callers
/// get an error (nothing acknowledged), and none of its lines is written again as an incident
/// when the store is opened again (a restart) or the log is emptied.
///
/// The failure is a real one from the kernel: the process's file size limit (RLIMIT_FSIZE, with
/// SIGXFSZ ignored) makes the log's `write(2)` stop in the middle of a batch, after whole lines
/// of it are in the file. An fsync that fails takes the same path (the batch refused, the log
/// cut back); no device here makes `fsync(2)` fail on demand, and the store has no failure point
/// to inject one, so that case is not provoked.
final class IncidentLogRefusalTests: XCTestCase {
    /// Counts the tasks that have begun their opening.
    final class Started: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    /// Keys of one length and run ids of one length: every line of the log has one length.
    static func incident(_ n: Int) -> AlertIncident { IncidentGroupCommitTests.incident("k-\(n + 10)") }

    func testTheLinesOfABatchTheLogRefusedAreNeverWrittenAgainAsIncidents() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-incidents-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try FileIncidentStore(stateDirectory: dir.path)
        _ = try await store.open(Self.incident(0))  // the log is opened (and emptied) by the first batch
        let log = store.directory + "/.opened.jsonl"
        let line = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: log)[.size] as? Int)
        XCTAssertGreaterThan(line, 100)

        // The committer is held at the log's lock with the next incident, while eight more queue
        // behind it: they go out as one batch once it is let go.
        let held = open(log, O_RDWR | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(held, 0)
        XCTAssertEqual(flock(held, LOCK_EX), 0)
        let first = Task { try await store.open(IncidentLogRefusalTests.incident(1)) }
        _ = try await ServeProcess.poll("the committer to claim k-11") { FileManager.default.fileExists(atPath: store.path(key: "k-11")) ? true : nil }
        let started = Started()
        let queued = (2..<10).map { n in
            Task { () -> (String, Bool) in
                started.add()
                return ("k-\(n + 10)", (try? await store.open(IncidentLogRefusalTests.incident(n))) != nil)
            }
        }
        _ = try await ServeProcess.poll("the eight openings to be queued") { started.value == 8 ? true : nil }

        // From here, the log holds two lines and half of a third: the held incident's line fits,
        // the batch behind it is cut after its first line.
        signal(SIGXFSZ, SIG_IGN)
        let fileSize = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        var original = rlimit()
        XCTAssertEqual(getrlimit(fileSize, &original), 0)
        var limited = original
        limited.rlim_cur = rlim_t(3 * line + line / 2)
        XCTAssertEqual(setrlimit(fileSize, &limited), 0)
        var accepted: Set<String> = ["k-10"]
        var refused: Set<String> = []
        do {
            defer { _ = setrlimit(fileSize, &original) }
            XCTAssertEqual(flock(held, LOCK_UN), 0)
            close(held)
            if (try? await first.value) != nil { accepted.insert("k-11") } else { refused.insert("k-11") }
            for task in queued {
                let (key, opened) = await task.value
                if opened { accepted.insert(key) } else { refused.insert(key) }
            }
        }
        XCTAssertEqual(accepted.union(refused).count, 10)
        XCTAssertGreaterThanOrEqual(refused.count, 2, "the log refused a batch of several: accepted \(accepted.sorted())")
        for key in refused { XCTAssertFalse(FileManager.default.fileExists(atPath: store.path(key: key)), "\(key) was refused") }

        // The server restarted: the log is read again, and only what was acknowledged is there.
        let reopened = try FileIncidentStore(stateDirectory: dir.path)
        let found = reopened.all()
        XCTAssertEqual(found.problems, [])
        XCTAssertEqual(Set(found.incidents.map(\.key)), accepted, "refused: \(refused.sorted())")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let logged = lines.compactMap { try? JSONDecoder().decode(AlertIncident.self, from: Data($0.utf8)).key }
        XCTAssertEqual(logged.count, lines.count, "every line of the log is whole: \(lines)")
        XCTAssertTrue(Set(logged).isDisjoint(with: refused), "the log names refused incidents: \(logged)")

        // Their retries open them, and every incident is kept through the log's emptying.
        for key in refused.sorted() {
            let retried = try await reopened.open(IncidentGroupCommitTests.incident(key))
            XCTAssertTrue(retried.created, key)
        }
        XCTAssertEqual(Set(try FileIncidentStore(stateDirectory: dir.path).all().incidents.map(\.key)), accepted.union(refused))
    }
}
