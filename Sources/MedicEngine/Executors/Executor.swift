import MedicModel

/// Why an executor is asked to run something: the step itself, the action's own verification
/// command, a rollback (an action's rollback script or a playbook rollback step), or the
/// escalation event that hands a run to people.
public enum ExecutionPurpose: String, Sendable, Hashable, Codable {
    case step, verification, rollback, escalation
}

/// One thing for an executor to do, with everything it needs already resolved: the executor
/// never looks at the catalog, and parameters are final text (`ParameterValue.environmentValue`).
public struct ExecutionRequest: Sendable, Hashable {
    public var runID: String
    public var stepNumber: Int
    public var stepName: String
    public var action: String
    public var purpose: ExecutionPurpose
    public var executor: ExecutorKind
    /// `shell`: the script text (implementation, verification or rollback, by `purpose`).
    public var script: String?
    /// `bus`: the topic, which becomes the CloudEvent's `type`.
    public var topic: String?
    /// `http`: the request, with `${name}` references still in it (the executor substitutes them).
    public var request: HTTPRequestSpec?
    /// The step's environment: its inputs and the outputs of earlier steps, by name.
    public var parameters: [String: String]
    /// Seconds before the attempt is abandoned (a shell step's process group gets SIGTERM).
    public var timeout: Double
    /// 1 for the first attempt, 2 for the first retry ...
    public var attempt: Int
    /// `RUN/SEQ`, the `seq` of the attempt's `step_started`: a shell step's processes carry it as
    /// `MEDIC_STEP` (and the run's id as `MEDIC_RUN_ID`), so that a later Medic can find them.
    public var stepToken: String?

    public init(runID: String, stepNumber: Int, stepName: String, action: String, purpose: ExecutionPurpose,
                executor: ExecutorKind, script: String? = nil, topic: String? = nil, request: HTTPRequestSpec? = nil,
                parameters: [String: String] = [:], timeout: Double, attempt: Int = 1) {
        self.runID = runID
        self.stepNumber = stepNumber
        self.stepName = stepName
        self.action = action
        self.purpose = purpose
        self.executor = executor
        self.script = script
        self.topic = topic
        self.request = request
        self.parameters = parameters
        self.timeout = timeout
        self.attempt = attempt
    }
}

/// How one attempt ended, in the same shape for every executor (it is what the journal records).
public struct ExecutionResult: Sendable, Hashable, Codable {
    public var succeeded: Bool
    /// A shell's exit status; an HTTP response's status code.
    public var exitStatus: Int32?
    /// The signal that ended a shell step.
    public var signal: Int32?
    public var timedOut: Bool
    /// Last bytes of the output (a shell's stdout, an HTTP response body).
    public var stdout: String
    public var stderr: String
    public var seconds: Double
    /// Values for later steps and rollbacks (`$MEDIC_OUTPUT` lines of a shell step).
    public var outputs: [String: String]
    /// One line saying what happened, for people: `exit 0`, `HTTP 200`, `published to outbox.jsonl`.
    public var summary: String

    public init(succeeded: Bool, exitStatus: Int32? = nil, signal: Int32? = nil, timedOut: Bool = false, stdout: String = "",
                stderr: String = "", seconds: Double = 0, outputs: [String: String] = [:], summary: String) {
        self.succeeded = succeeded
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
        self.outputs = outputs
        self.summary = summary
    }
}

/// Runs one kind of step. An executor reports a step that ran and failed as a result with
/// `succeeded == false`; it throws `ExecutorError` only when it could not run the step at all
/// (no `/bin/sh`, an outbox that cannot be written), which the interpreter also treats as a failure.
public protocol StepExecutor: Sendable {
    func execute(_ request: ExecutionRequest) async throws -> ExecutionResult
    /// The same, telling `started` who the step's process is as soon as it exists, so the run's
    /// journal can name it (`step_process`). An executor that starts no process never calls it.
    func execute(_ request: ExecutionRequest, started: @escaping @Sendable (StepProcess) -> Void) async throws -> ExecutionResult
}

extension StepExecutor {
    public func execute(_ request: ExecutionRequest, started: @escaping @Sendable (StepProcess) -> Void) async throws -> ExecutionResult {
        try await execute(request)
    }
}

/// The executors of a run, one per `ExecutorKind`.
public struct ExecutorSet: Sendable {
    public var shell: any StepExecutor
    public var bus: any StepExecutor
    public var http: any StepExecutor

    public init(shell: any StepExecutor, bus: any StepExecutor, http: any StepExecutor) {
        self.shell = shell
        self.bus = bus
        self.http = http
    }

    public func executor(for kind: ExecutorKind) -> any StepExecutor {
        switch kind {
        case .shell: shell
        case .bus: bus
        case .http: http
        }
    }
}
