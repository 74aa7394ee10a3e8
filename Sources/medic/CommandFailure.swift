import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// What stops a command once its arguments are understood, or a usage error found while running:
/// the lines to show and the exit status (1: findings, a failed run, a file that cannot be read;
/// 2: usage). Thrown from anywhere in a command and rendered in one place, `MedicMain`: each
/// line through the log on standard error, at level error. A command's output proper (a report,
/// `--json`) never goes this way.
struct CommandFailure: Error {
    var lines: [String]
    var exitCode: Int32

    /// A failure with exit status 1.
    init(_ lines: String..., exitCode: Int32 = 1) {
        self.lines = lines
        self.exitCode = exitCode
    }

    /// A usage error found before a command was chosen (exit 2), worded as argument-parser words one.
    static func usage(_ message: String) -> CommandFailure { CommandFailure("Error: \(message)", exitCode: 2) }

    /// The errors of a file or a library that cannot be used, then what that means for the command.
    static func diagnostics(_ errors: [Diagnostic], _ consequence: String) -> CommandFailure {
        CommandFailure(DiagnosticRenderer.text(errors), consequence)
    }

    /// A catalog with errors: never planned, run or watched.
    /// `exitCode` 2 where the library is an argument of a command that does not run it (advise, prune).
    static func catalog(_ failure: CatalogStage.Failure, _ consequence: String = "the catalog has errors; fix them (medic validate) first",
                        exitCode: Int32 = 1) -> CommandFailure {
        var refusal = diagnostics(failure.errors, consequence)
        refusal.exitCode = exitCode
        return refusal
    }

    /// Shows the failure; called once, by `MedicMain`.
    func render() {
        for line in lines { MedicLog.log.error("\(line)") }
    }
}
