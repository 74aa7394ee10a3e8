import MedicModel
/// What the shell executor runs: POSIX sh text, with its parameters as environment variables.
public struct ShellCommand: Sendable, Equatable {
    /// Script text, run as `/bin/sh -c SCRIPT`. Parameters are never spliced into it: the shell
    /// expands `${name}` from the environment, so a value can never become code.
    public var script: String
    /// Parameter values (already rendered, see `ParameterValue.environmentValue`).
    public var parameters: [String: String]
    /// Variables of Medic's own environment passed through (`PATH`, `HOME` ...); nothing else is.
    public var inheritedVariables: [String]
    public var workingDirectory: String?
    /// Seconds before the step's process group gets SIGTERM; nil for no limit.
    public var timeout: Double?
    /// Seconds between SIGTERM and SIGKILL.
    public var gracePeriod: Double
    /// Bytes kept of each of stdout and stderr (the last ones).
    public var outputLimit: Int

    public static let defaultInherited = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL", "HOSTNAME"]

    public init(script: String, parameters: [String: String] = [:], inheritedVariables: [String] = ShellCommand.defaultInherited,
                workingDirectory: String? = nil, timeout: Double? = nil, gracePeriod: Double = 5, outputLimit: Int = 64 << 10) {
        self.script = script
        self.parameters = parameters
        self.inheritedVariables = inheritedVariables
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.gracePeriod = gracePeriod
        self.outputLimit = outputLimit
    }
}

/// How a shell step ended.
public struct ShellResult: Sendable, Equatable {
    /// The shell's exit status, when it exited.
    public var exitStatus: Int32?
    /// The signal that ended the shell, when one did.
    public var signal: Int32?
    public var timedOut: Bool
    /// The last `outputLimit` bytes of each stream, and whether earlier bytes were dropped.
    public var stdout: String
    public var stderr: String
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    public var seconds: Double
    /// `key=value` lines the script wrote to the file named by `$MEDIC_OUTPUT`.
    public var outputs: [String: String]
    /// Why the outputs could not be taken (bytes that are not UTF-8): the attempt then fails,
    /// since later steps would miss them.
    public var outputProblem: String? = nil

    public var succeeded: Bool { exitStatus == 0 && !timedOut && outputProblem == nil }
}

/// A fault of Medic's own (not of the step): the process could not be started.
public struct ExecutorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ShellExecutor {
    /// What a helper command (a metric source's, a targets command) printed, run off the threads
    /// that run tasks. Throws the reason as text naming the command as `what` ("the command timed
    /// out after 10s: <its last stderr line>", "... failed (exit 3): ...", "... was killed by
    /// signal 9", "... could not run: ..."), for the caller to wrap in its own error. While it
    /// runs, its process group is in `running` (an engine's, so that stopping the engine ends it).
    static func output(of command: ShellCommand, what: String, running: RunningSteps? = nil) async throws -> ShellResult {
        let result: ShellResult
        do {
            result = try await BlockingWork.run { try ShellExecutor.run(command, running: running) }
        } catch {
            throw HelperCommandFailure(description: "\(what) could not run: \(error)")
        }
        let lastError = result.stderr.split(whereSeparator: \.isNewline).last.map { ": \($0)" } ?? ""
        if result.timedOut {
            throw HelperCommandFailure(description: "\(what) timed out after \(Interval.trim(command.timeout ?? 0))s\(lastError)")
        }
        if let signal = result.signal { throw HelperCommandFailure(description: "\(what) was killed by signal \(signal)\(lastError)") }
        guard result.exitStatus == 0 else {
            throw HelperCommandFailure(description: "\(what) failed (exit \(result.exitStatus ?? -1))\(lastError)")
        }
        return result
    }
}

/// Why a helper command gave no output to use.
struct HelperCommandFailure: Error, CustomStringConvertible {
    var description: String
}
