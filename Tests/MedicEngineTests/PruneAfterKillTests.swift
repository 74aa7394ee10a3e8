import Foundation
import MedicEngine
import MedicKnowledge
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `medic prune` SIGKILLed at random moments, as a real process: whatever the moment, no
/// journal and no incident record is lost or doubled, the unfinished run is untouched, and the
/// next prune finishes the job, ending where an uninterrupted prune ends.
final class PruneAfterKillTests: XCTestCase {
    private var medic: String {
        let products = Bundle.main.bundleURL
        let candidate = products.appendingPathComponent("medic").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return Bundle(for: Self.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic").path
    }

    func testAKilledPruneLosesNothingAndTheNextPruneFinishesIt() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 200)
        let pending = try await bench.run(gates: RetentionTests.waiting)
        var finished: [String] = []
        for index in 0..<40 { finished.append(try await bench.run(index % 5 != 4)) }
        bench.clock.advance(seconds: 150 * 86_400)
        for _ in 0..<5 { finished.append(try await bench.run()) }
        let template = URL(fileURLWithPath: bench.directory)
        let library = template.deletingLastPathComponent().appendingPathComponent(template.lastPathComponent + "-library")
        addTeardownBlock { try? FileManager.default.removeItem(at: library) }
        try FileManager.default.createDirectory(at: library.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try """
            retention:
              runs: {max_age: 30d, keep_at_least: 0}
              knowledge: {max_age: 60d}
            """.write(to: library.appendingPathComponent("policies/retention.yaml"), atomically: true, encoding: .utf8)
        let pendingJournal = try Data(contentsOf: URL(fileURLWithPath: bench.store.journalPath(pending)))
        let allRecords = Set(bench.historyIDs(KnowledgeBase.historyPath(bench.directory)))
        XCTAssertEqual(allRecords, Set(finished))
        let totals = try statistics(of: template)
        XCTAssertEqual(totals.kpis.incidents, finished.count)

        // The uninterrupted prune, for the end state and for the length of the kill window.
        let reference = try copy(template, "reference")
        let started = Date()
        XCTAssertEqual(try launch(reference, library: library, killAfter: nil).status, 0)
        let duration = Date().timeIntervalSince(started)
        let expected = try state(of: reference)
        XCTAssertEqual(try statistics(of: reference), totals, "the whole history's figures are those before the prune")
        XCTAssertFalse(expected.archived.isEmpty, "the reference prune archived runs")
        XCTAssertFalse(expected.segments.isEmpty, "the reference prune archived incident records")

        var kills = 0
        for round in 0..<12 {
            let folder = try copy(template, "round-\(round)")
            let killAfter = Double.random(in: 0...(duration * 1.1))
            let first = try launch(folder, library: library, killAfter: killAfter)
            if first.killed { kills += 1 }
            try checkNothingLost(folder, finished: finished, records: allRecords, pending: pending, pendingJournal: pendingJournal,
                                 context: "round \(round), killed after \(killAfter) s")
            XCTAssertEqual(try statistics(of: folder), totals, "round \(round), killed after \(killAfter) s: the same figures")
            let second = try launch(folder, library: library, killAfter: nil)
            XCTAssertEqual(second.status, 0, "round \(round): the next prune finishes: \(second.stderr)")
            let end = try state(of: folder)
            XCTAssertEqual(end, expected, "round \(round): the same end as an uninterrupted prune")
            try checkNothingLost(folder, finished: finished, records: allRecords, pending: pending, pendingJournal: pendingJournal,
                                 context: "round \(round), after the next prune")
            XCTAssertEqual(try statistics(of: folder), totals, "round \(round), after the next prune: the same figures")
            try? FileManager.default.removeItem(at: folder)
        }
        XCTAssertGreaterThan(kills, 0, "at least one prune was killed part-way")
    }

    /// `medic kb stats`'s figures over the whole history (the pruned records' from the ledger).
    /// Means are rounded to 9 digits: the pruned records' times are added in another order.
    private func statistics(of folder: URL) throws -> OutcomeStatistics {
        let knowledge = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: folder.path), create: false)
        var figures = try knowledge.incidentStatistics().statistics
        func rounded(_ value: Double?) -> Double? { value.map { Double(String(format: "%.9g", $0))! } }
        figures.kpis.mttd = rounded(figures.kpis.mttd)
        figures.kpis.mttr = rounded(figures.kpis.mttr)
        for index in figures.playbooks.indices {
            figures.playbooks[index].averageExecutionTime = rounded(figures.playbooks[index].averageExecutionTime)
        }
        return figures
    }

    private struct StateFiles: Equatable {
        var live: Set<String>
        var archived: Set<String>
        var history: [String]
        var segments: [String: [String]]
    }

    private func state(of folder: URL) throws -> StateFiles {
        func names(_ sub: String) -> Set<String> {
            Set((try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/" + sub)) ?? [])
        }
        var segments: [String: [String]] = [:]
        for name in names("archive/knowledge") where name != "prune.lock" {
            segments[name] = lines(folder.path + "/archive/knowledge/" + name)
        }
        return StateFiles(live: names("runs"), archived: names("archive/runs"),
                          history: lines(KnowledgeBase.historyPath(folder.path)), segments: segments)
    }

    private func checkNothingLost(_ folder: URL, finished: [String], records: Set<String>, pending: String, pendingJournal: Data,
                                  context: String) throws {
        let runs = folder.path + "/runs/", archive = folder.path + "/archive/runs/"
        for id in finished {
            let places = [runs, archive].filter { FileManager.default.fileExists(atPath: $0 + id + ".jsonl") }
            XCTAssertEqual(places.count, 1, "\(context): the journal of \(id) is in exactly one place: \(places)")
        }
        XCTAssertEqual(FileManager.default.contents(atPath: runs + pending + ".jsonl"), pendingJournal, "\(context): the pending run is untouched")
        let live = ids(KnowledgeBase.historyPath(folder.path))
        let knowledge = folder.path + "/archive/knowledge/"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: knowledge)) ?? []
        let archived = names.filter { $0.hasSuffix(".jsonl") }.flatMap { ids(knowledge + $0) }
        let pendingSegments = names.filter { $0.hasSuffix(".pending") }.flatMap { ids(knowledge + $0) }
        XCTAssertEqual(live.count, Set(live).count, "\(context): no record twice in the history")
        XCTAssertEqual(archived.count, Set(archived).count, "\(context): no record twice in the archive")
        XCTAssertTrue(Set(live).isDisjoint(with: archived), "\(context): no record both in the history and the archive")
        XCTAssertEqual(Set(live).union(archived).union(pendingSegments), records, "\(context): no record lost")
        if pendingSegments.isEmpty {
            XCTAssertEqual(live.count + archived.count, records.count, "\(context): each record exactly once")
        }
    }

    private func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    private func ids(_ path: String) -> [String] {
        lines(path).compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["run_id"] as? String }
    }

    private func copy(_ template: URL, _ name: String) throws -> URL {
        let folder = template.deletingLastPathComponent().appendingPathComponent(template.lastPathComponent + "-" + name)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.copyItem(at: template, to: folder)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder
    }

    /// Runs `medic prune`; SIGKILLs it `killAfter` seconds after it started if it still runs.
    private func launch(_ state: URL, library: URL, killAfter: Double?) throws -> (status: Int32, killed: Bool, stderr: String) {
        let errors = state.path + ".stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let words = [medic, "prune", "--state-dir", state.path, "--library", library.path]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, medic, &actions, nil, argv, environ)
        guard spawned == 0 else { throw JournalError("cannot start \(medic): \(String(cString: strerror(spawned)))") }
        let start = Date()
        var status: Int32 = 0
        var killed = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped == -1 && errno != EINTR { throw JournalError("waitpid: \(String(cString: strerror(errno)))") }
            let elapsed = Date().timeIntervalSince(start)
            if !killed, let killAfter, elapsed >= killAfter {
                kill(pid, SIGKILL)
                killed = true
            } else if !killed && elapsed > 300 {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                throw JournalError("medic prune did not finish in 300 s")
            }
            usleep(200)
        }
        let signaled = (status & 0x7f) != 0
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        return (signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff, killed && signaled, stderr)
    }
}

extension KnowledgeBase {
    static func historyPath(_ state: String) -> String { defaultDirectory(inState: state) + "/incident-history.jsonl" }
}
