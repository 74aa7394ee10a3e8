import Foundation
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// Gate 5: the playbook's `preconditions` and the `pre_conditions` of every step's action hold.
/// Conditions are evaluated against the metric sources (with the step's parameters as `${name}`);
/// a condition that fails, or whose value cannot be read, refuses with what was seen. Named
/// checks are `NamedChecks`. The first failing precondition refuses the run.
public struct PreconditionGate: Gate {
    public let name = GateID.preconditions
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let plan = context.plan
        func values(_ parameters: [RenderedParameter]) -> [String: String] {
            Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { _, later in later })
        }
        // The playbook's own, with its inputs; then each step's action's, with that step's environment.
        let groups: [(String, [Precondition], [String: String], PlannedStep?)] =
            [("playbook", plan.preconditions, values(plan.parameters), nil)]
            + plan.steps.map { ("step \($0.number) (\($0.action))", $0.preconditions, values($0.environment), $0) }
        var checked = 0
        for (owner, preconditions, values, step) in groups {
            for precondition in preconditions {
                checked += 1
                switch precondition {
                case .condition(let condition):
                    guard let evaluator = context.evaluator else {
                        return .refuse(name, "\(owner): cannot evaluate '\(condition.source)': no metric sources")
                    }
                    switch await evaluator.evaluate(condition, parameters: values) {
                    case .holds: continue
                    case .fails(let observed):
                        return .refuse(name, "\(owner): '\(condition.source)' does not hold (\(observed))")
                    case .unknown(let reason):
                        return .refuse(name, "\(owner): cannot tell whether '\(condition.source)' holds: \(reason)")
                    }
                case .check(let check, let expected):
                    if let failure = await NamedChecks.run(check, expected: expected, plan: plan, step: step, context: context) {
                        return .refuse(name, "\(owner): check \(check) failed: \(failure)")
                    }
                }
            }
        }
        return .pass(name, checked == 0 ? "none declared" : "\(checked) held")
    }
}

/// The named checks of `Precondition.knownChecks`, each without side effects. `run` returns
/// nil when the check holds, else why not.
public enum NamedChecks {
    /// Processes whose command name marks a backup in progress (`no_active_backups`).
    static let backupTools: Set<String> = [
        "pg_basebackup", "pg_dump", "pg_dumpall", "mysqldump", "mariabackup", "xtrabackup", "mongodump", "restic", "borg",
        "duplicity", "rsnapshot", "barman", "pgbackrest", "wal-g",
    ]

    static let shellWords: Set<String> = [
        "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in", "echo", "printf",
        "test", "[", "cd", "exit", "return", "set", "export", "local", "read", "true", "false", ":", ".", "shift", "trap",
        "wait", "command", "eval", "exec", "break", "continue", "{", "}", "!", "unset", "umask", "ulimit",
    ]

    static func run(_ name: String, expected: ParameterValue?, plan: Plan, step: PlannedStep?, context: GateContext) async -> String? {
        let steps = step.map { [$0] } ?? plan.steps
        switch name {
        case "writable_filesystem":
            // `/` and every existing absolute path the steps are given (globs cut at their first `*`).
            var paths = ["/"]
            for value in steps.flatMap({ $0.environment.map(\.value) }) {
                for word in value.split(separator: " ") where word.hasPrefix("/") {
                    let path = String(word.prefix { $0 != "*" && $0 != "?" && $0 != "[" })
                    if FileManager.default.fileExists(atPath: path) { paths.append(path) }
                }
            }
            for path in Array(Set(paths)).sorted() {
                var fs = statvfs()
                if statvfs(path, &fs) == 0, fs.f_flag & UInt(ST_RDONLY) != 0 { return "\(path) is on a read-only filesystem" }
                if access(path, W_OK) != 0 { return "\(path) is not writable by uid \(geteuid())" }
            }
            return nil
        case "no_active_backups":
            let running = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> String? in
                guard Int32(entry) != nil,
                      let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8) else { return nil }
                let command = comm.trimmingCharacters(in: .whitespacesAndNewlines)
                return backupTools.contains(command) ? "\(command) (pid \(entry))" : nil
            }
            return running.isEmpty ? nil : "a backup is running: \(running.sorted().joined(separator: ", "))"
        case "sufficient_permissions":
            if geteuid() == 0 { return nil }
            let sudo = try? ShellExecutor.run(ShellCommand(script: "sudo -n true", timeout: 5, gracePeriod: 1))
            return sudo?.succeeded == true ? nil : "Medic runs as uid \(geteuid()), not root, and `sudo -n` is not allowed"
        case "command_available":
            let wanted = expected.map { words(in: $0.environmentValue) } ?? commands(in: steps)
            let missing = wanted.filter { !onPath($0) }
            return missing.isEmpty ? nil : "not found on PATH: \(missing.joined(separator: ", "))"
        case "service_exists":
            let service = expected?.environmentValue
                ?? steps.lazy.compactMap { $0.environment.first { ["service", "service_name", "unit"].contains($0.name) }?.value }.first
            guard let service, !service.isEmpty else { return "no service is named (give expected: NAME or a service_name parameter)" }
            guard onPath("systemctl") else { return "cannot check service \(service): systemctl is not available" }
            let result = try? ShellExecutor.run(ShellCommand(script: #"systemctl cat -- "$service" >/dev/null 2>&1"#,
                                                             parameters: ["service": service], timeout: 10, gracePeriod: 1))
            return result?.succeeded == true ? nil : "systemd knows no service \(service)"
        case "replica_healthy":
            guard let evaluator = context.evaluator, case .success(let condition) = Condition.parse("replica_healthy") else {
                return "no metric sources to read replica_healthy"
            }
            switch await evaluator.evaluate(condition, parameters: [:]) {
            case .holds: return nil
            case .fails(let observed): return "the replica is not healthy (\(observed))"
            case .unknown(let reason): return "cannot read replica_healthy: \(reason)"
            }
        case "not_in_maintenance":
            for window in context.catalog.policies.maintenanceWindows {
                if let open = window.occurrence(around: context.now), open.start <= context.now {
                    return "maintenance window '\(window.name)' is open until \(JournalRecord.timestamp(open.end))"
                }
            }
            let path = context.stateDirectory + "/maintenance.json"
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return "a maintenance is declared in \(path): \(String(decoding: data.prefix(200), as: UTF8.self))"
        default:
            return "Medic has no check named '\(name)' (known: \(Precondition.knownChecks.joined(separator: ", ")))"
        }
    }

    private static func words(in text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    /// The commands the steps' scripts start lines with (not shell words, variables or assignments).
    static func commands(in steps: [PlannedStep]) -> [String] {
        var found: [String] = []
        for script in steps.compactMap(\.script) {
            for line in script.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.hasPrefix("#"),
                      let first = trimmed.split(whereSeparator: { " |;&()<>\t".contains($0) }).first.map(String.init),
                      !first.contains("="), !first.contains("$"), !first.contains("\""), !first.contains("'"),
                      !shellWords.contains(first), !first.hasSuffix(")") else { continue }
                if !found.contains(first) { found.append(first) }
            }
        }
        return found
    }

    static func onPath(_ command: String) -> Bool {
        if command.contains("/") { return FileManager.default.isExecutableFile(atPath: command) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(command)") }
    }
}
