import ArgumentParser
import Foundation
import MedicLoader
import MedicModel
import MedicServer

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check playbooks, actions, rules and policies; report every problem with its place.",
        discussion: """
            Reads YAML (.yaml, .yml) and JSON (.json) files; directories are searched recursively. \
            With no PATH, reads playbooks/ actions/ rules/ policies/ under --root. When PATHs are \
            given, those folders under --root are still read so that references resolve (a step's \
            action, a rule's playbook), but only the named files are reported. A PATH named \
            medic.yaml, medic.yml or medic.json, and --config FILE, is read as the configuration \
            of `medic serve`, its routes checked against the library.

            Every problem of every file is reported, each as
              path:line:col: error[CODE]: message
                hint: how to fix it
            Codes are stable and explained in docs/diagnostics.md.

            Exit status: 0 no errors (warnings alone), 1 errors (or warnings with --strict), 2 usage.

            Examples:
              medic validate
              medic validate playbooks/disk-space-cleanup-001.yaml
              medic validate --format sarif > medic.sarif
            """
    )

    @Argument(help: "Files or directories to check (default: the library folders under --root).")
    var paths: [String] = []

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    @Option(help: "Output format: text, json or sarif.")
    var format: DiagnosticFormat = .text

    @Option(help: ArgumentHelp("A `medic serve` configuration to check (repeatable).", valueName: "file"))
    var config: [String] = []

    @Flag(help: "Fail (exit 1) on warnings too.")
    var strict = false

    @Flag(name: .shortAndLong, help: "Print only the problems, not the summary.")
    var quiet = false

    @Option(help: "Largest file to read: \(FileSizeLimit.acceptedForms). Default: 4MiB.", transform: FileSizeLimit.argument)
    var maxFileSize = FileSizeLimit(bytes: 4 << 20)

    mutating func run() async throws {
        let library = CatalogLoader.libraryPaths(under: root)
        let configurations = config + paths.filter(ServeConfiguration.isConfigurationFile)
        let libraryFiles = paths.filter { !ServeConfiguration.isConfigurationFile($0) }
        let named = paths.isEmpty && config.isEmpty ? library : libraryFiles
        if paths.isEmpty && config.isEmpty && named.isEmpty {
            throw ValidationError("no playbooks/ actions/ rules/ policies/ under '\(root)'; give --root or the paths to check")
        }
        let context = paths.isEmpty && config.isEmpty ? [] : library
        let loader = CatalogLoader(limits: InputLimits(maxFileSize: maxFileSize.bytes))
        var result = loader.load(paths: named, context: context)
        result.diagnostics += ServeConfiguration.check(paths: configurations, catalog: result.catalog)
        let reportedFiles = Set(result.diagnostics.map(\.location.file))
        // The library folders read for context are not part of what was asked to be checked.
        let checked = result.files.filter { !$0.isContext }
        let fileCount = checked.count + configurations.count

        switch format {
        case .text:
            writeOut(DiagnosticRenderer.text(result.diagnostics))
            if !quiet { printLine(Summary(files: checked, diagnostics: result.diagnostics, filesWithProblems: reportedFiles.count,
                                           configurations: configurations.count).text) }
        case .json:
            writeOut(DiagnosticRenderer.json(result.diagnostics, files: fileCount))
        case .sarif:
            let base = FileManager.default.currentDirectoryPath
            writeOut(DiagnosticRenderer.sarif(result.diagnostics, toolVersion: Medic.version, baseDirectory: base))
        }
        let failing = result.diagnostics.contains { $0.severity == .error || (strict && $0.severity == .warning) }
        if failing { throw ExitCode(1) }
    }
}

extension DiagnosticFormat: ExpressibleByArgument {}

/// The closing lines of `medic validate`: what the checked files hold, and the verdict.
struct Summary {
    let files: [LoadedFile]
    let diagnostics: [Diagnostic]
    let filesWithProblems: Int
    var configurations = 0

    var text: String {
        let playbooks = files.compactMap(\.playbook)
        let actions = files.reduce(0) { $0 + $1.actions.count }
        let rules = files.reduce(0) { $0 + $1.rules.count }
        let policyEntries = files.reduce(0) { total, file in
            let p = file.policies
            return total + p.severityLevels.count + p.escalationPolicies.count + p.autoEscalationTriggers.count
                + p.blastRadiusLevels.count + p.containmentStrategies.count + p.rollbackStrategies.count
                + p.verificationStates.count + p.knowledgeBase.count
        }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.filter { $0.severity == .warning }.count
        var lines = files.isEmpty && configurations > 0 ? [] : [
            "Checked \(count(files.count, "file")): \(count(playbooks.count, "playbook")), \(count(actions, "action")), "
                + "\(count(rules, "rule")), \(count(policyEntries, "policy entry", "policy entries")).",
        ]
        if configurations > 0 { lines.append("Checked \(count(configurations, "serve configuration")).") }
        if !playbooks.isEmpty {
            let byCategory = Dictionary(grouping: playbooks, by: \.category)
            let parts = Category.allCases.compactMap { c in byCategory[c].map { "\(c.rawValue) \($0.count)" } }
            lines.append("Playbooks by category: \(parts.joined(separator: ", ")).")
        }
        if errors == 0 && warnings == 0 {
            lines.append("No problems found.")
        } else {
            lines.append("\(count(errors, "error")), \(count(warnings, "warning")) in \(count(filesWithProblems, "file")).")
        }
        return lines.joined(separator: "\n")
    }

    private func count(_ n: Int, _ one: String, _ many: String? = nil) -> String {
        "\(n) \(n == 1 ? one : many ?? one + "s")"
    }
}
