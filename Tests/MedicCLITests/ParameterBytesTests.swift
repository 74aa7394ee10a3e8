import Foundation
import XCTest

/// Values reach steps byte for byte or not at all: a parameter, target or label that is not
/// UTF-8 (which Swift would read with U+FFFD in its place) is refused, naming it; a feed line
/// that is not UTF-8 is reported and skipped, never read with its bytes replaced.
final class ParameterBytesTests: XCTestCase {
    private func workspace() throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        let files = [
            "actions/a.yaml": """
                actions:
                  say:
                    type: infrastructure
                    risk_level: low
                    parameters: {word: required}
                    implementation: printf '%s\\n' "${word}" >> "\(dir.path)/effects"
                """,
            "playbooks/p.yaml": """
                playbook_id: say-001
                name: Say
                version: 1.0.0
                category: infrastructure
                severity: SEV3
                parameters:
                  word: {type: string, required: true}
                remediation_steps:
                  - {step: 1, name: say, action: say}
                metadata: {}
                """,
        ]
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    /// Runs medic through the shell, so an argument can hold bytes a Swift String cannot.
    private func shell(_ script: String, in dir: URL) throws -> MedicRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, Medic.binary.path]
        process.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return MedicRun(status: process.terminationStatus, stdout: stdout, stderr: stderr, seconds: 0)
    }

    func testAParameterThatIsNotUTF8IsRefusedNamingItAndNothingRuns() throws {
        let dir = try workspace()
        let state = dir.appendingPathComponent("state").path
        for form in [#"--param "word=$(printf 'caf\351')""#, #""--param=word=$(printf 'caf\351')""#] {
            let result = try shell(#"exec "$0" run say-001 "# + form + #" --state-dir "# + state, in: dir)
            XCTAssertEqual(result.status, 2, result.stdout + result.stderr)
            XCTAssertTrue(result.stderr.contains(#"--param word: the value 'caf\351' is not valid UTF-8 (byte 0xE9 at offset 3)"#), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("effects").path), "no step ran")
            XCTAssertFalse(FileManager.default.fileExists(atPath: state), "nothing was written")
        }
        // Targets and labels come the same way.
        let target = try shell(#"exec "$0" plan say-001 --param word=ok --target "web-1,zone=$(printf 'eu\377')""#, in: dir)
        XCTAssertEqual(target.status, 2, target.stdout + target.stderr)
        XCTAssertTrue(target.stderr.contains(#"--target web-1: the value 'zone=eu\377' is not valid UTF-8"#), target.stderr)
        // Valid UTF-8 passes unchanged, byte for byte.
        let fine = try shell(#"exec "$0" run say-001 --param "word=$(printf 'caf\303\251')" --state-dir "# + state, in: dir)
        XCTAssertEqual(fine.status, 0, fine.stdout + fine.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: dir.appendingPathComponent("effects").path), Data([0x63, 0x61, 0x66, 0xC3, 0xA9, 0x0A]))
    }

    func testAnInventoryThatIsNotUTF8IsRefused() throws {
        let dir = try workspace()
        try (Data("hosts:\n  - name: web-1\n    labels: {zone: \"eu".utf8) + [0xFF] + Data("\"}\n".utf8)).write(to: dir.appendingPathComponent("inventory.yaml"))
        let result = try Medic.run(["plan", "say-001", "--param", "word=ok", "--root", dir.path, "--inventory",
                                    dir.appendingPathComponent("inventory.yaml").path], in: dir)
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        XCTAssertTrue(result.stderr.contains("invalid UTF-8"), result.stderr)
    }

    func testAFeedLineThatIsNotUTF8IsReportedAndSkippedNotAltered() throws {
        let dir = try workspace()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rules"), withIntermediateDirectories: true)
        try """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV3
                playbook: say-001
                parameters_from_labels: {word: path}
                group_by: [path]
            """.write(to: dir.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
        var feed = Data()
        feed += Data(#"{"ts": 1800000000, "metric": "disk_usage_percent", "labels": {"path": "/caf"#.utf8) + [0xE9]
            + Data(#""}, "value": 95}"#.utf8) + [0x0A]
        feed += Data(#"{"ts": 1800000060, "metric": "disk_usage_percent", "labels": {"path": "/ok"}, "value": 95}"#.utf8) + [0x0A]
        try feed.write(to: dir.appendingPathComponent("feed.jsonl"))
        let backtest = try Medic.run(["backtest", "rules/r.yaml", "feed.jsonl", "--json", "--root", dir.path], in: dir)
        XCTAssertEqual(backtest.status, 0, backtest.stdout + backtest.stderr)
        XCTAssertTrue(backtest.stderr.contains("feed.jsonl:1: the line is not valid UTF-8 (at byte 76)"), backtest.stderr)
        let document = try Medic.json(backtest.stdout)
        let incidents = try XCTUnwrap(document["incidents"] as? [[String: Any]])
        XCTAssertEqual(incidents.compactMap { ($0["labels"] as? [String: String])?["path"] }, ["/ok"])
        XCTAssertFalse(backtest.stdout.contains("\u{FFFD}"), backtest.stdout)
        let watch = try Medic.run(["watch", "--input", "feed.jsonl", "--dry-run", "--json", "--root", dir.path,
                                   "--state-dir", dir.appendingPathComponent("state").path], in: dir)
        XCTAssertEqual(watch.status, 0, watch.stdout + watch.stderr)
        XCTAssertTrue(watch.stderr.contains("not valid UTF-8"), watch.stderr)
        XCTAssertFalse(watch.stdout.contains("\u{FFFD}"), watch.stdout)
        XCTAssertEqual(watch.stdout.components(separatedBy: #""event":"incident""#).count - 1, 1, watch.stdout)
    }
}
