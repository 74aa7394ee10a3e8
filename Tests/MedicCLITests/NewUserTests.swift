import Foundation
import MedicLoader
import MedicModel
import XCTest

/// What a new user meets first, through the built binary: errors that name the command and the
/// fix, help that reads at 80 columns, and messages that say what happened.
final class NewUserTests: XCTestCase {
    private func write(_ text: String, to path: String, in directory: URL) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// A library of one playbook whose one step appends to `${log}`.
    private func library() throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        try write("""
            actions:
              note:
                type: infrastructure
                risk_level: low
                parameters: {log: required}
                implementation: echo noted >> "${log}"
            """, to: "actions/a.yaml", in: dir)
        try write("""
            playbook_id: note-001
            name: Note
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              log: {type: string, default: "\(dir.appendingPathComponent("log").path)"}
            remediation_steps:
              - {step: 1, name: note, action: note}
            metadata: {}
            """, to: "playbooks/p.yaml", in: dir)
        return dir
    }

    func testUsageErrorsFoundWhileRunningShowTheSubcommandsUsage() throws {
        let dir = try library()
        for (arguments, usage) in [(["run"], "Usage: medic run "), (["plan", "nope-001"], "Usage: medic plan "),
                                   (["show", "no-such-run", "--state-dir", dir.path], "Usage: medic show ")] {
            let result = try Medic.run(arguments + (arguments.first == "show" ? [] : ["--root", dir.path]), in: dir)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(usage), "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("See 'medic \(arguments[0]) --help'"), result.stderr)
            XCTAssertFalse(result.stderr.contains("<subcommand>"), "the top-level usage: \(result.stderr)")
        }
    }

    func testAMissingPlaybookSaysWhatIsMissing() throws {
        let dir = try library()
        let bare = try Medic.run(["run", "--root", dir.path], in: dir)
        XCTAssertTrue(bare.stderr.contains("Error: name a playbook: a playbook file or a playbook_id under --root"), bare.stderr)
        XCTAssertFalse(bare.stderr.contains("to plan"), bare.stderr)

        let file = try Medic.run(["run", "./my-playbook.yaml", "--root", dir.path], in: dir)
        XCTAssertEqual(file.status, 2)
        XCTAssertTrue(file.stderr.contains("Error: ./my-playbook.yaml: no such file"), file.stderr)

        // No close spelling: the names sharing its words, else the names there are.
        let shared = try Medic.run(["plan", "disk-cleanup-001"])
        XCTAssertTrue(shared.stderr.contains("did you mean 'disk-space-cleanup-001'"), shared.stderr)
        let far = try Medic.run(["plan", "zzz", "--root", dir.path], in: dir)
        XCTAssertTrue(far.stderr.contains("known: note-001 (medic list --root \(dir.path) lists them all)"), far.stderr)
    }

    func testAnUnknownDetectorListsTheDetectorsOnce() throws {
        let result = try Medic.run(["detect", "--detector", "nonsense", "--csv", "x.csv"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr.components(separatedBy: "moving_average").count - 1, 1, result.stderr)
    }

    func testAMisspeltStepKeyGetsDidYouMean() throws {
        let dir = try library()
        try write("""
            playbook_id: note-002
            name: Note
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: note, action: note, log: /tmp/x, timout: 5m}
            metadata: {}
            """, to: "playbooks/q.yaml", in: dir)
        let result = try Medic.run(["validate", "--root", dir.path], in: dir)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("action 'note' has no parameter 'timout'"), result.stdout)
        XCTAssertTrue(result.stdout.contains("hint: did you mean the step key 'timeout'?"), result.stdout)
    }

    /// The commands and subcommands `--help` lists (its SUBCOMMANDS section, up to the blank line).
    private func commands(_ path: [String] = []) throws -> [[String]] {
        let help = try Medic.run(path + ["--help"]).stdout
        guard path.count < 2, let section = help.components(separatedBy: "SUBCOMMANDS:\n").dropFirst().first else { return [path] }
        let names = section.components(separatedBy: "\n\n")[0].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first,
                  word.allSatisfy({ $0.isLowercase || $0 == "-" }) else { return nil }
            return String(word)
        }
        return try [path] + names.filter { $0 != "help" }.flatMap { try commands(path + [$0]) }
    }

    func testHelpKeepsEveryExampleOnOneLineAndNamesDocsFiles() throws {
        let all = try commands()
        XCTAssertTrue(all.contains(["kb", "stats"]) && all.contains(["list"]), "\(all)")
        for command in all {
            let narrow = try helpText(command, columns: 80)
            let wide = try helpText(command, columns: 1000)
            let narrowLines = Set(narrow.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
            for line in wide.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("medic ") {
                let example = line.trimmingCharacters(in: .whitespaces)
                XCTAssertTrue(narrowLines.contains(example), "medic \(command.joined(separator: " ")) --help splits: \(example)")
            }
            XCTAssertFalse(narrow.contains("reference §"), "medic \(command.joined(separator: " ")) --help cites the reference")
            XCTAssertFalse(narrow.contains("seed-systems"), "medic \(command.joined(separator: " ")) --help cites seed-systems")
        }
    }

    private func helpText(_ command: [String], columns: Int) throws -> String {
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = command + ["--help"]
        process.environment = ["COLUMNS": String(columns), "PATH": "/usr/bin:/bin"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testADryRunSaysNothingRanAndTheDemoDoesNotCountNoGates() throws {
        let dir = try library()
        let dry = try Medic.run(["run", "note-001", "--dry-run", "--root", dir.path, "--state-dir", dir.appendingPathComponent("s").path], in: dir)
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.hasSuffix("Dry run: nothing ran and nothing was journaled. Without --dry-run, medic run carries this plan out.\n"),
                      dry.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("log").path))

        let demo = try Medic.run(["demo", "--size-mb", "2", "--state-dir", dir.appendingPathComponent("demo").path], in: dir, timeout: 120)
        XCTAssertEqual(demo.status, 0, demo.stdout + demo.stderr)
        XCTAssertFalse(demo.stdout.contains("all 0 passed"), demo.stdout)
        XCTAssertTrue(demo.stdout.contains("gates: all ") && demo.stdout.contains(" passed\n"), demo.stdout)
    }

    func testTheDailyReportSaysWhyARunAPersonStartedIsNotInTheAutoRemediationRate() throws {
        let dir = try library()
        let state = dir.appendingPathComponent("state").path
        let run = try Medic.run(["run", "note-001", "--root", dir.path, "--state-dir", state], in: dir)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let report = try Medic.run(["report", "daily", "--state-dir", state, "--out", dir.path], in: dir)
        XCTAssertEqual(report.status, 0, report.stderr)
        let markdownPath = try XCTUnwrap(report.stdout.split(separator: "\n").first { $0.hasSuffix(".md") })
        let markdown = try String(contentsOfFile: String(markdownPath), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| 1 | 1 | 0 | 0 | 0 |"), markdown)
        XCTAssertTrue(markdown.contains("Of the 1 auto-remediated, 1 had a run a person started (`medic run`)"), markdown)
        let json = try Medic.json(try Medic.run(["report", "daily", "--state-dir", state, "--json"], in: dir).stdout)
        XCTAssertEqual((json["summary"] as? [String: Any])?["auto_remediated_started_by_people"] as? Int, 1)
    }

    /// A check that reads a series labelled like a parameter (`namespace="production"` beside a
    /// `namespace` parameter) must read the parameter, or `--param namespace=shop` checks the
    /// wrong deployment. (A trigger cannot: it fires before there are parameters.)
    func testShippedChecksReadTheParametersTheirLabelsName() {
        let roots = CatalogLoader.libraryFolders.map { Medic.repositoryRoot.appendingPathComponent($0).path }
        let catalog = CatalogLoader().load(paths: roots).catalog
        var checked = 0
        for playbook in catalog.playbooks {
            let parameters = Set(playbook.parameters.map(\.name))
            let conditions = playbook.preconditions.compactMap { precondition -> Condition? in
                if case .condition(let condition) = precondition { return condition }
                return nil
            } + [playbook.verification?.check].compactMap { $0 }
            for condition in conditions {
                for selector in condition.expression.references {
                    for matcher in selector.matchers where parameters.contains(matcher.label) {
                        checked += 1
                        XCTAssertEqual(matcher.value, "${\(matcher.label)}",
                                       "\(playbook.id): '\(condition.source)' hard-codes \(matcher.label)")
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4, "pod-restart-001 and scale-deployment-001 read namespace and deployment")
    }

    /// pod-restart-001's precondition, through `medic plan`, reads the namespace it is given.
    func testPodRestartChecksTheNamespaceItIsGiven() throws {
        let dir = try Medic.temporaryDirectory(self)
        let shipped = Medic.repositoryRoot
        let playbook = try String(contentsOf: shipped.appendingPathComponent("playbooks/pod-restart-001.yaml"), encoding: .utf8)
        // Only the metric condition: whether Medic may run kubectl as root is not this test's question.
        try write(playbook.replacingOccurrences(of: "  - check: sufficient_permissions\n", with: ""), to: "playbooks/pod-restart-001.yaml", in: dir)
        try write(try String(contentsOf: shipped.appendingPathComponent("actions/kubernetes.yaml"), encoding: .utf8),
                  to: "actions/kubernetes.yaml", in: dir)
        try FileManager.default.copyItem(at: shipped.appendingPathComponent("policies"), to: dir.appendingPathComponent("policies"))
        try write("""
            metric_sources:
              - name: cluster
                type: command
                command: 'echo "$selector" >> asked; if [ "$label_namespace" = shop ]; then echo 2; fi'
            """, to: "metrics.yaml", in: dir)
        func preconditions(_ arguments: [String]) throws -> [String: Any] {
            let result = try Medic.run(["plan", "pod-restart-001", "--root", dir.path, "--state-dir", dir.appendingPathComponent("s").path, "--json"]
                                       + arguments, in: dir)
            XCTAssertEqual(result.status, 0, result.stderr)
            let gates = try XCTUnwrap(try Medic.json(result.stdout)["gates"] as? [[String: Any]])
            return try XCTUnwrap(gates.first { $0["gate"] as? String == "preconditions" })
        }
        XCTAssertEqual(try preconditions(["--param", "namespace=shop"])["decision"] as? String, "pass")
        let production = try preconditions([])
        XCTAssertEqual(production["decision"] as? String, "refuse")
        XCTAssertTrue((production["reason"] as? String)?.contains(#"namespace="production""#) == true, "\(production)")
        let asked = try String(contentsOf: dir.appendingPathComponent("asked"), encoding: .utf8)
        XCTAssertTrue(asked.contains(#"kube_deployment_status_replicas_available{namespace="shop",deployment="checkout"}"#), asked)
    }

    func testAMetricNoSourceServesNamesTheFileToConfigure() throws {
        let dir = try library()
        try write("""
            playbook_id: checked-001
            name: Checked
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            pre_conditions:
              - 'queue_depth < 10'
            remediation_steps:
              - {step: 1, name: note, action: note, log: /dev/null}
            metadata: {}
            """, to: "playbooks/c.yaml", in: dir)
        let result = try Medic.run(["plan", "checked-001", "--root", dir.path, "--state-dir", dir.appendingPathComponent("s").path], in: dir)
        XCTAssertTrue(result.stdout.contains("configure one in the metric sources file \(dir.path)/metrics.yaml"), result.stdout)
    }

    func testListShowsWhatTheShippedLibraryDefines() throws {
        let text = try Medic.run(["list"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("Playbooks under . (21):\n"), text.stdout)
        let line = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("  disk-space-cleanup-001 ") })
        XCTAssertTrue(line.hasSuffix("trigger: disk_usage_percent > 85 for 5m; rules: root-disk-filling"), String(line))
        let json = try Medic.json(try Medic.run(["list", "--json"]).stdout)
        let playbooks = try XCTUnwrap(json["playbooks"] as? [[String: Any]])
        let cleanup = try XCTUnwrap(playbooks.first { $0["id"] as? String == "disk-space-cleanup-001" })
        XCTAssertEqual(cleanup["severity"] as? String, "SEV1")
        XCTAssertEqual(cleanup["rules"] as? [String], ["root-disk-filling"])
        XCTAssertEqual((cleanup["trigger"] as? [String: Any])?["duration"] as? String, "5m")
        XCTAssertTrue((json["actions"] as? [[String: Any]])?.contains { $0["name"] as? String == "restart_pod" } == true)
        XCTAssertTrue((json["rules"] as? [[String: Any]])?.contains { $0["name"] as? String == "root-disk-filling" } == true)
        XCTAssertTrue((json["policies"] as? [[String: Any]])?.contains { $0["kind"] as? String == "severity_level" } == true)
        // The retention policy `medic prune` follows is listed where it is defined.
        let retention = try XCTUnwrap((json["policies"] as? [[String: Any]])?.first { $0["kind"] as? String == "retention" })
        XCTAssertTrue(((retention["place"] as? [String: Any])?["file"] as? String)?.hasSuffix("policies/retention.yaml") == true, "\(retention)")

        // A library with errors is listed as far as it loaded, and the exit status says so.
        let dir = try Medic.temporaryDirectory(self)
        try write("playbook_id: broken\n", to: "playbooks/b.yaml", in: dir)
        let broken = try Medic.run(["list", "--root", dir.path], in: dir)
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.contains("has errors"), broken.stderr)
    }
}
