import Foundation
import MedicModel

/// Runs a shell command that prints the value on stdout: a number (`42`, `0.5`, also with a unit
/// such as `12%`, `5m` or `100MB`, read as its magnitude) or else text. Empty output means the
/// command has no such series.
///
/// The selector reaches the command only as environment variables, never as script text:
/// `metric` (the name), `selector` (the whole selector, `queue_depth{queue="jobs"}`) and
/// `label_<name>` for each `label="value"` matcher (characters other than letters, digits and
/// `_` in the label name become `_`). A non-zero exit or a timeout is a `MetricError` carrying
/// the last line of stderr.
public struct CommandMetricSource: MetricSource {
    public var command: String
    /// Seconds before the command's process group is ended.
    public var timeout: Double
    public var workingDirectory: String?
    /// Variables of Medic's own environment the command sees (PATH, HOME ... by default).
    public var inheritedVariables: [String]
    /// The engine's running steps (`EngineEnvironment.runningSteps`): stopping the engine ends
    /// a command running then, as it ends the steps.
    public var runningSteps: RunningSteps?

    public init(command: String, timeout: Double = 10, workingDirectory: String? = nil,
                inheritedVariables: [String] = ShellCommand.defaultInherited, runningSteps: RunningSteps? = nil) {
        self.command = command
        self.timeout = timeout
        self.workingDirectory = workingDirectory
        self.inheritedVariables = inheritedVariables
        self.runningSteps = runningSteps
    }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        var environment = ["metric": selector.name, "selector": selector.description]
        for matcher in selector.matchers where matcher.op == .equal {
            environment["label_" + Self.variableName(matcher.label)] = matcher.value
        }
        let shell = ShellCommand(script: command, parameters: environment, inheritedVariables: inheritedVariables,
                                 workingDirectory: workingDirectory, timeout: timeout, gracePeriod: 1, outputLimit: 16 << 10)
        let result: ShellResult
        do {
            result = try await ShellExecutor.output(of: shell, what: "the command", running: runningSteps)
        } catch let failure as HelperCommandFailure {
            throw MetricError(failure.description)
        }
        return Self.parse(result.stdout)
    }

    /// A printed value: nil for nothing, a number (with an optional unit), or the text.
    static func parse(_ output: String) -> MetricValue? {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return nil }
        if let number = Double(text) { return .number(number) }
        if case .success(let quantity) = Quantity.parse(text) { return .number(quantity.magnitude) }
        return .text(text)
    }

    static func variableName(_ label: String) -> String {
        String(label.unicodeScalars.map {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" ? Character($0) : "_"
        })
    }
}
