import Foundation
import MedicEngine
import MedicKnowledge
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `medic prune` as a person runs it: the dry run prints the lines the prune prints, and the
/// exit status says when something could not be pruned (1) or the command was wrong (2).
final class PruneCommandTests: XCTestCase {
    private struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private func medic(_ arguments: [String]) throws -> Result {
        var binary = Bundle.main.bundleURL.appendingPathComponent("medic")
        if !FileManager.default.isExecutableFile(atPath: binary.path) {
            binary = Bundle(for: Self.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("medic-prune-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        XCTAssertTrue(FileManager.default.createFile(atPath: out.path, contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: err.path, contents: nil))
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8))
    }

    private func library(_ policy: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-prune-lib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("policies"), withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try policy.write(to: dir.appendingPathComponent("policies/retention.yaml"), atomically: true, encoding: .utf8)
        return dir.path
    }

    func testTheDryRunPrintsTheLinesThePrunePrints() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 200)
        for _ in 0..<14 { try await bench.run() }
        let lib = try library("retention:\n  runs: {max_age: 30d, keep_at_least: 0}\n  knowledge: {max_age: 60d}\n")
        let dry = try medic(["prune", "--dry-run", "--state-dir", bench.directory, "--library", lib])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let real = try medic(["prune", "--state-dir", bench.directory, "--library", lib])
        XCTAssertEqual(real.status, 0, real.stderr)
        let dryLines = dry.stdout.split(separator: "\n"), realLines = real.stdout.split(separator: "\n")
        XCTAssertEqual(dryLines.count, 4 + 1 + 1, "4 runs, the incident records, the count:\n\(dry.stdout)")
        XCTAssertEqual(dryLines.dropLast(), realLines.dropLast())
        XCTAssertTrue(dryLines.last?.hasPrefix("Would prune 4 run(s) and 14 incident record(s)") == true, dry.stdout)
        XCTAssertTrue(realLines.last?.hasPrefix("Pruned 4 run(s) and 14 incident record(s)") == true, real.stdout)
    }

    func testARunAnotherProcessHoldsIsNotPrunedAndTheExitStatusSaysSo() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 100)
        var ids: [String] = []
        for _ in 0..<12 { ids.append(try await bench.run()) }
        let held = open(bench.directory + "/runs/" + ids[0] + ".lock", O_RDWR | O_CLOEXEC)
        XCTAssertEqual(flock(held, LOCK_EX), 0)
        defer { close(held) }
        let lib = try library("retention:\n  runs: {max_age: 1d, keep_at_least: 0}\n")
        let result = try medic(["prune", "--state-dir", bench.directory, "--library", lib, "--json"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("another process holds the lock of run \(ids[0])"), result.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((json["actions"] as? [[String: Any]])?.compactMap { $0["run"] as? String }, [ids[1]])
        XCTAssertTrue(FileManager.default.fileExists(atPath: bench.store.journalPath(ids[0])), "the held run stays")
    }

    /// `retention.archive.max_age`: archived journals, their side files and incident segments
    /// last written longer ago are removed (the dry run says so and removes nothing); younger
    /// ones, the lock and files Medic did not put there stay. Without the key, the archive is
    /// kept for ever.
    func testArchivedFilesOlderThanTheArchivesMaxAgeAreRemoved() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 200)
        for _ in 0..<14 { try await bench.run() }
        let policy = "retention:\n  runs: {max_age: 30d, keep_at_least: 0}\n  knowledge: {max_age: 60d}\n"
        let keeping = try library(policy)
        let first = try medic(["prune", "--state-dir", bench.directory, "--library", keeping])
        XCTAssertEqual(first.status, 0, first.stderr)
        let runs = bench.directory + "/archive/runs", knowledge = bench.directory + "/archive/knowledge"
        let journals = bench.files("archive/runs").filter { $0.hasSuffix(".jsonl") }.sorted()
        let segments = bench.files("archive/knowledge").filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(journals.count, 4, "\(bench.files("archive/runs"))")
        XCTAssertEqual(segments.count, 1, "\(bench.files("archive/knowledge"))")
        try "a person's note".write(toFile: runs + "/notes.txt", atomically: true, encoding: .utf8)
        // Everything in the archive last written 500 days ago, but the newest journal.
        let old = Date().addingTimeInterval(-500 * 86_400)
        for folder in [runs, knowledge] {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != journals.last {
                try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: folder + "/" + name)
            }
        }
        let before = bench.files("archive/runs").union(bench.files("archive/knowledge"))

        let unset = try medic(["prune", "--state-dir", bench.directory, "--library", keeping, "--json"])
        XCTAssertEqual(unset.status, 0, unset.stderr)
        XCTAssertFalse(unset.stdout.contains("remove_archived"), "no archive.max_age: kept for ever\n\(unset.stdout)")

        let expiring = try library(policy + "  archive: {max_age: 400d}\n")
        let dry = try medic(["prune", "--dry-run", "--state-dir", bench.directory, "--library", expiring])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(bench.files("archive/runs").union(bench.files("archive/knowledge")), before, "a dry run removes nothing")
        let real = try medic(["prune", "--state-dir", bench.directory, "--library", expiring])
        XCTAssertEqual(real.status, 0, real.stderr)
        let removed = real.stdout.split(separator: "\n").filter { $0.hasPrefix("remove archived ") }
        XCTAssertEqual(dry.stdout.split(separator: "\n").filter { $0.hasPrefix("remove archived ") }, removed)
        XCTAssertTrue(removed.allSatisfy { $0.hasSuffix(": archived, last written more than 400d ago") }, real.stdout)
        let expected = Set(journals.dropLast()).union(before.filter { $0.hasSuffix(".recorded") || $0.hasSuffix(".torn") })
            .map { runs + "/" + $0 } + segments.map { knowledge + "/" + $0 }
        XCTAssertEqual(Set(removed.map { String($0.dropFirst("remove archived ".count).prefix { $0 != ":" }) }), Set(expected), real.stdout)
        // Journals before side files, so a kill between them leaves only side files.
        let firstSideFile = removed.firstIndex { !$0.contains(".jsonl:") } ?? removed.endIndex
        XCTAssertFalse(removed[firstSideFile...].contains { $0.contains("/archive/runs/") && $0.contains(".jsonl:") }, real.stdout)

        XCTAssertEqual(bench.files("archive/runs").filter { $0.hasSuffix(".jsonl") }, [journals.last!], "the young journal stays")
        XCTAssertTrue(bench.files("archive/runs").contains("notes.txt"))
        XCTAssertEqual(bench.files("archive/knowledge").filter { $0.hasSuffix(".jsonl") }, [])
        XCTAssertTrue(bench.files("archive").contains("prune.lock"))
        let again = try medic(["prune", "--state-dir", bench.directory, "--library", expiring])
        XCTAssertFalse(again.stdout.contains("remove archived"), again.stdout)

        // `medic list` says how long the archive is kept.
        for (lib, says) in [(keeping, "what goes is archived, the archive kept for ever"),
                            (expiring, "what goes is archived, the archive's files removed 400d after their last write")] {
            let listed = try medic(["list", "--root", lib])
            XCTAssertEqual(listed.status, 0, listed.stderr)
            let line = listed.stdout.split(separator: "\n").first { $0.hasPrefix("  retention") }
            XCTAssertTrue(line?.hasSuffix(says) == true, listed.stdout)
        }
    }

    func testUsageAndABrokenLibraryPruneNothing() async throws {
        let bench = try RetentionTests.Bench(self, daysAgo: 100)
        for _ in 0..<12 { try await bench.run() }
        let broken = try library("retention:\n  runs: {max_age: 1d, keep_at_least: -1}\n")
        let refused = try medic(["prune", "--state-dir", bench.directory, "--library", broken])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("M206"), refused.stderr)
        XCTAssertEqual(try medic(["prune", "--state-dir", bench.directory + "-missing"]).status, 2)
        XCTAssertEqual(try medic(["prune", "--state-dir", bench.directory, "--bogus"]).status, 2)
        XCTAssertEqual(bench.files("runs").filter { $0.hasSuffix(".jsonl") }.count, 12)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bench.directory + "/archive"))
    }
}
