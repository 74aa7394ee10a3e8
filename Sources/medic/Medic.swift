import ArgumentParser
import Foundation

/// The `medic` command: thin subcommands over the libraries.
struct Medic: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "medic",
        abstract: "Declarative self-healing for operations teams.",
        discussion: """
            Operators describe remediation as YAML or JSON files: playbooks, an action library, \
            anomaly rules and policies. Medic checks them and reports every problem with its file, \
            line and column, a stable code and a hint.

            Exit codes: 0 success, 1 findings or a failed run, 2 usage error.

            Every command's output (reports, tables, --json) goes to standard output; its \
            diagnostics (warnings, notes, failures) go to standard error through the log. \
            Global options, accepted by every command anywhere before `--`:
              --log-level LEVEL    trace, debug, info, notice, warning, error, critical
                                   (default info: every warning and note;
                                   $MEDIC_LOG_LEVEL sets the default)
              --log-format FORMAT  human (the default: lines as they have always read) or
                                   json (one object per line: timestamp, level, label,
                                   message, metadata; $MEDIC_LOG_FORMAT sets
                                   the default)

            Start with:
              medic demo                     a real remediation in a sandbox
              medic validate                 check the library folders here
              medic list                     what is loaded: playbooks, actions, rules
              medic validate --format sarif  the same, as SARIF 2.1.0 for CI code scanning
              medic plan pod-restart-001 --param namespace=shop
                                             what a run would do, step by step
              medic run pod-restart-001 --param namespace=shop
                                             do it: journaled, verified, rolled back on failure
              medic runs / medic show RUN    what runs did; medic resume RUN continues one
              medic plan restart-service-001 --inventory hosts.yaml
                                             a rollout across targets, stage by stage
              medic watch --input feed.jsonl --dry-run
                                             what the anomaly rules would start
              medic schema playbook          the JSON Schema an editor can use
            """,
        version: version,
        subcommands: [DemoCommand.self, Validate.self, ListCommand.self, PlanCommand.self, RunCommand.self, RunsCommand.self, ShowCommand.self, ResumeCommand.self, ApproveCommand.self, DenyCommand.self, PauseCommand.self, ResumeAllCommand.self, SafeModeCommand.self, BreakerCommand.self, DetectCommand.self, BacktestCommand.self, WatchCommand.self, ServeCommand.self, MigrateCommand.self, TokenCommand.self, AckCommand.self, ResolveCommand.self, KnowledgeCommand.self, MemoryCommand.self, ReportCommand.self, HealthCommand.self, StatusCommand.self, DegradeCommand.self, PruneCommand.self, ChaosCommand.self, Schema.self]
    )
}

/// Entry point: maps argument-parser's usage failures to exit code 2 (it uses 64 by default),
/// so that 0 / 1 / 2 mean ok / findings / usage everywhere.
@main
enum MedicMain {
    static func main() async {
        // A full disk or a file size limit must reach the journal as an error it can report
        // (EFBIG, ENOSPC), not kill Medic; a closed pipe likewise (EPIPE).
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        // A rollout holds a lock file open per target for the whole run: a thousand targets must
        // not meet the soft limit of open files (often 1024) while the hard limit allows more.
        var files = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < files.rlim_max {
            files.rlim_cur = min(files.rlim_max, 1 << 20)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files)
        }
        if let refusal = ArgumentEncoding.refusal(ArgumentEncoding.commandLine) {
            printError("Error: \(refusal)")
            exit(2)
        }
        let arguments: [String]
        do {
            arguments = try MedicLog.bootstrap(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
        } catch let failure as CommandFailure {
            printError(failure.lines.joined(separator: "\n"))
            exit(failure.exitCode)
        } catch {
            printError("Error: \(error)")
            exit(2)
        }
        var parsed: ParsableCommand.Type?
        do {
            var command = try Medic.parseAsRoot(arguments)
            parsed = type(of: command)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            failure.render()
            exit(failure.exitCode)
        } catch let error as ValidationError where parsed != nil && parsed != Medic.self {
            // A usage error found while running: the usage shown is the subcommand's, as for one
            // found while parsing.
            printError(Medic.usageError(error.message, in: parsed!))
            exit(2)
        } catch {
            let code = Medic.exitCode(for: error)
            let message = Medic.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { printLine(message) }
                exit(0)
            }
            if !message.isEmpty { printError(message) }
            exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

extension Medic {
    /// "Error: MESSAGE", the usage of `subcommand` and where its help is, as argument-parser
    /// words a usage error found while parsing.
    static func usageError(_ message: String, in subcommand: ParsableCommand.Type) -> String {
        let usage = usageString(for: subcommand)
        // The usage starts with the command's path (`medic kb stats`), then its arguments.
        let path = usage.split(separator: " ").prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
        return "Error: \(message)\nUsage: \(usage)\n  See '\(path.joined(separator: " ")) --help' for more information."
    }
}
