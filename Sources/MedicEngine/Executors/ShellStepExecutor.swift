import Foundation
import MedicModel

/// The `shell` executor: runs the request's script with `/bin/sh -c` through `ShellExecutor`,
/// parameters as environment variables only.
public struct ShellStepExecutor: StepExecutor {
    /// Variables of Medic's own environment a step may see (PATH, HOME ... by default).
    public var inheritedVariables: [String]
    /// Where steps run; nil for Medic's own working directory.
    public var workingDirectory: String?
    /// Seconds between SIGTERM and SIGKILL when a step times out.
    public var gracePeriod: Double
    /// The threads the blocking process runs on (the engine's `blockingPool`).
    public var pool: BlockingPool
    /// Where each step's process group is known while it runs (the engine's `runningSteps`).
    public var runningSteps: RunningSteps

    /// By default the executor has a pool and a registry of its own; an engine passes its
    /// environment's (`init(environment:...)`), so that stopping the engine reaches its steps.
    public init(inheritedVariables: [String] = ShellCommand.defaultInherited, workingDirectory: String? = nil,
                gracePeriod: Double = 5, pool: BlockingPool = BlockingPool(), runningSteps: RunningSteps = RunningSteps()) {
        self.inheritedVariables = inheritedVariables
        self.workingDirectory = workingDirectory
        self.gracePeriod = gracePeriod
        self.pool = pool
        self.runningSteps = runningSteps
    }

    /// The shell executor of an engine: its blocking pool and its running-steps registry.
    public init(environment: EngineEnvironment, inheritedVariables: [String] = ShellCommand.defaultInherited,
                workingDirectory: String? = nil, gracePeriod: Double = 5) {
        self.init(inheritedVariables: inheritedVariables, workingDirectory: workingDirectory, gracePeriod: gracePeriod,
                  pool: environment.blockingPool, runningSteps: environment.runningSteps)
    }

    public func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        try await execute(request, started: { _ in })
    }

    public func execute(_ request: ExecutionRequest, started: @escaping @Sendable (StepProcess) -> Void) async throws -> ExecutionResult {
        guard let script = request.script else {
            throw ExecutorError("step \(request.stepNumber) (\(request.stepName)): action '\(request.action)' has no \(request.purpose == .step ? "implementation" : request.purpose.rawValue) script")
        }
        // The marks a later Medic finds the step's processes by, set last so no parameter hides them.
        var environment = request.parameters
        environment[StepProcess.runVariable] = request.runID
        if let token = request.stepToken { environment[StepProcess.stepVariable] = token }
        let command = ShellCommand(script: script, parameters: environment, inheritedVariables: inheritedVariables,
                                   workingDirectory: workingDirectory, timeout: request.timeout, gracePeriod: gracePeriod)
        let token = request.stepToken
        let running = runningSteps
        // The shell executor blocks while its process runs: run it on a pool thread (reused, and
        // one more for each step running at once) rather than on one of the few threads that run
        // every task.
        let result = try await pool.perform {
            try ShellExecutor.run(command, running: running) { pid in
                if let process = StepProcess.current(pid, token: token) { started(process) }
            }
        }
        let summary: String
        if result.timedOut {
            summary = "timed out after \(Interval.trim(request.timeout))s"
        } else if let signal = result.signal {
            summary = "killed by signal \(signal)"
        } else if let problem = result.outputProblem, result.exitStatus == 0 {
            summary = "exit 0, but \(problem)"
        } else {
            summary = "exit \(result.exitStatus ?? -1)"
        }
        return ExecutionResult(
            succeeded: result.succeeded, exitStatus: result.exitStatus, signal: result.signal, timedOut: result.timedOut,
            stdout: result.stdout, stderr: result.stderr, seconds: result.seconds, outputs: result.outputs, summary: summary)
    }
}
