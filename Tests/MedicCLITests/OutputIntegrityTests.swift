import Foundation
import XCTest

/// Every command's output is whole whether it goes to a pipe or a file: the same bytes both
/// ways, on outputs well past the 64 KiB a pipe holds, with no line starting in the middle of
/// another.
final class OutputIntegrityTests: XCTestCase {
    private enum Sink { case pipe, file }

    /// Runs medic with standard output to a pipe (read while it writes) or to a file, and
    /// returns the bytes it wrote there.
    private func output(_ arguments: [String], in directory: URL, to sink: Sink) throws -> Data {
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let file = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
        let pipe = Pipe()
        switch sink {
        case .pipe:
            process.standardOutput = pipe
        case .file:
            _ = FileManager.default.createFile(atPath: file.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: file)
        }
        try process.run()
        var bytes = Data()
        if sink == .pipe { bytes = pipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        if sink == .file {
            bytes = try Data(contentsOf: file)
            try FileManager.default.removeItem(at: file)
        }
        return bytes
    }

    /// The output of `arguments`, checked to be the same through a pipe and to a file, large,
    /// and valid UTF-8.
    private func sameBothWays(_ arguments: [String], in directory: URL, atLeast bytes: Int = 64 << 10,
                              file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let piped = try output(arguments, in: directory, to: .pipe)
        let filed = try output(arguments, in: directory, to: .file)
        XCTAssertGreaterThan(piped.count, bytes, "medic \(arguments.joined(separator: " ")): too little output to test", file: file, line: line)
        XCTAssertEqual(piped, filed, "medic \(arguments.joined(separator: " ")): a pipe and a file got different bytes", file: file, line: line)
        return try XCTUnwrap(String(data: piped, encoding: .utf8), "not UTF-8: a sequence was cut", file: file, line: line)
    }

    private func write(_ text: String, to path: String, in directory: URL) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// A library with one rule and one playbook, and a feed in which `paths` disks fill at once:
    /// one incident, so one planned run, per path.
    private func watchWorkspace(paths: Int) throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        try write("""
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required}
                implementation: echo "cleaned ${path} — café"
            """, to: "actions/a.yaml", in: dir)
        try write("""
            playbook_id: clean-001
            name: Clean
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              path: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: clean, action: clean}
              - {step: 2, name: clean again, action: clean}
            metadata: {}
            """, to: "playbooks/p.yaml", in: dir)
        try write("""
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                for: 1m
                severity: SEV3
                playbook: clean-001
                parameters_from_labels: {path: path}
                group_by: [path]
            """, to: "rules/r.yaml", in: dir)
        var feed = ""
        for offset in [0, 30, 60, 90] {
            for path in 0..<paths {
                feed += #"{"ts": \#(1_800_000_000 + offset), "metric": "disk_usage_percent", "labels": {"path": "/srv/é\#(path)"}, "value": 93}"# + "\n"
            }
        }
        try write(feed, to: "feed.jsonl", in: dir)
        return dir
    }

    func testWatchDryRunTextIsWholeThroughAPipeAndToAFile() throws {
        let paths = 150
        let dir = try watchWorkspace(paths: paths)
        let text = try sameBothWays(["watch", "--input", "feed.jsonl", "--dry-run", "--root", dir.path,
                                     "--state-dir", dir.appendingPathComponent("state").path], in: dir)
        let events = ["pending    ", "FIRING     ", "dry run    ", "resolved   ", "run        ", "feed ended: "]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for line in lines {
            // An event line starts with its event; a plan line below "dry run" is indented.
            XCTAssertTrue(events.contains { line.hasPrefix($0) } || line.hasPrefix("    "), "a line starts mid-record: \(line)")
            for event in events.dropLast() {
                XCTAssertFalse(line.dropFirst().contains(event), "two records on one line: \(line)")
            }
        }
        XCTAssertEqual(lines.filter { $0.hasPrefix("dry run    ") }.count, paths)
        XCTAssertEqual(lines.filter { $0.hasPrefix("FIRING     ") }.count, paths)
        XCTAssertEqual(lines.last, "feed ended: 0 run(s) started, 0 did not succeed")
    }

    func testWatchDryRunJSONIsWholeThroughAPipeAndToAFile() throws {
        let dir = try watchWorkspace(paths: 60)
        let text = try sameBothWays(["watch", "--input", "feed.jsonl", "--dry-run", "--json", "--root", dir.path,
                                     "--state-dir", dir.appendingPathComponent("state").path], in: dir)
        let events = try text.split(separator: "\n").map { try Medic.json(String($0)) }
        XCTAssertEqual(events.filter { $0["event"] as? String == "planned" }.count, 60)
    }

    func testValidateOfManyFilesIsWholeThroughAPipeAndToAFile() throws {
        let dir = try Medic.temporaryDirectory(self)
        for n in 0..<300 {
            try write("""
                playbook_id: broken-\(n)
                name: Broken
                version: one
                severity: SEV9
                remediation_steps:
                  - {step: 1, name: é, action: nowhere, timout: 5m}
                """, to: "playbooks/broken-\(n).yaml", in: dir)
        }
        for format in ["text", "json", "sarif"] {
            let text = try sameBothWays(["validate", "--root", dir.path, "--format", format], in: dir)
            if format == "text" {
                // Each diagnostic (path:line:column, then its hint), then the three summary lines.
                let lines = text.split(separator: "\n")
                for line in lines.dropLast(3) {
                    XCTAssertTrue(line.hasPrefix(dir.path + "/playbooks/broken-") || line.hasPrefix("  hint: "), "a line starts mid-record: \(line)")
                }
                XCTAssertTrue(lines.suffix(3).first?.hasPrefix("Checked 300 files") == true, "\(lines.suffix(3))")
            } else {
                XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(text.utf8)), format)
            }
        }
    }

    func testPlanJSONOfAPlaybookWithManyStepsIsWholeThroughAPipeAndToAFile() throws {
        let dir = try Medic.temporaryDirectory(self)
        try write("""
            actions:
              say:
                type: infrastructure
                risk_level: low
                parameters: {word: required}
                implementation: echo "${word}"
            """, to: "actions/a.yaml", in: dir)
        let steps = (1...400).map { "  - {step: \($0), name: step \($0) ünïcode, action: say, parameters: {word: w\($0)}}" }
        try write("""
            playbook_id: long-001
            name: Long
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
            \(steps.joined(separator: "\n"))
            metadata: {}
            """, to: "playbooks/long.yaml", in: dir)
        let text = try sameBothWays(["plan", "long-001", "--root", dir.path, "--json"], in: dir)
        let plan = try Medic.json(text)
        XCTAssertEqual((plan["steps"] as? [Any])?.count, 400)
        _ = try sameBothWays(["plan", "long-001", "--root", dir.path], in: dir, atLeast: 16 << 10)
    }

    func testKnowledgeStatsOfManyPlaybooksAreWholeThroughAPipeAndToAFile() throws {
        let dir = try Medic.temporaryDirectory(self)
        var lines: [String] = []
        for n in 0..<3000 {
            let mode = n % 2 == 0 ? "automated" : "manual"
            let outcome = n % 3 == 0 ? "failed" : "succeeded"
            lines.append(ReportHistory.line("r\(n)", "2026-11-22T09:00:00.000Z", "playbook-é-\(n % 1200)", mode, outcome,
                                            ttr: 60, time: Double(n % 90), category: "network"))
        }
        let state = try ReportHistory.write(lines, in: dir)
        let text = try sameBothWays(["kb", "stats", "--state-dir", state.path], in: dir)
        XCTAssertEqual(text.components(separatedBy: "playbook-é-").count - 1, 1200, "every playbook once")
        let json = try sameBothWays(["kb", "stats", "--state-dir", state.path, "--json"], in: dir)
        XCTAssertEqual((try Medic.json(json)["playbooks"] as? [Any])?.count, 1200)
    }

    func testDetectAndBacktestOfALongSeriesAreWholeThroughAPipeAndToAFile() throws {
        let dir = try Medic.temporaryDirectory(self)
        var csv = "timestamp,value\n"
        for n in 0..<6000 { csv += "\(1_800_000_000 + 60 * n),\(n % 10 == 0 ? 99 : 40 + n % 7)\n" }
        try write(csv, to: "series.csv", in: dir)
        let scored = try sameBothWays(["detect", "--detector", "ewma", "--csv", "series.csv"], in: dir)
        XCTAssertEqual(scored.split(separator: "\n").count, 6001, "a header and one row a sample")
        try write("""
            rules:
              - name: spike
                metric: series
                detector: threshold
                params: {op: ">", value: 90}
                severity: SEV3
            """, to: "rules/r.yaml", in: dir)
        let replayed = try sameBothWays(["backtest", "rules", "series.csv", "--metric", "series"], in: dir)
        XCTAssertTrue(replayed.contains("spike"), replayed)
    }
}
