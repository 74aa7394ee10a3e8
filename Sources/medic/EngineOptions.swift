import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge
import MedicLoader
import MedicModel
import MedicServer

/// Where a run keeps its state and what it talks to: shared by `run`, `resume` and `demo`.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"),
            help: "The state directory (run journals, bus outbox). Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: ArgumentHelp(
        "Where bus steps and escalations publish their CloudEvents: outbox:PATH, webhook:URL or stdout.",
        discussion: "Default: the state directory's outbox, <state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    @Option(help: "A metric sources file (which source serves which metric). Default: metrics.yaml under --root when present.")
    var metrics: String?

    @Option(help: "The working directory of shell steps, an existing directory. Default: Medic's own.",
            transform: WorkingDirectory.argument)
    var workdir: WorkingDirectory?

    @Option(name: .customLong("pass-env"), help: ArgumentHelp(
        "A variable of Medic's environment that shell steps may see (repeatable).",
        discussion: "Always passed: \(ShellCommand.defaultInherited.joined(separator: " ")). Nothing else is, unless named here."),
            transform: VariableName.argument)
    var passEnvironment: [VariableName] = []

    @Option(help: ArgumentHelp("A file whose `resilience:` section sets the limits of the guards of executor calls and metric queries (docs/resilience.md).",
                               discussion: "Default: Medic's defaults. medic serve takes the section of --config instead.", valueName: "file"))
    var resilience: String?

    var stateDirectoryPath: String { stateDirectory ?? RunStore.defaultDirectory() }

    /// The engine of this command: built once, on the wall clock, with the file-backed stores of
    /// the state directory (created when missing), passed down to everything.
    func environment() throws -> EngineEnvironment {
        let clock = SystemClock()
        let stores: StateStores
        let memory = ImmuneMemoryCache()
        do {
            stores = try StateStores.files(in: stateDirectoryPath, clock: clock, immuneMemoryCache: memory)
        } catch let error as JournalError {
            throw CommandFailure("error: \(error.description)")
        }
        return EngineEnvironment(stateDirectory: stateDirectoryPath, stores: stores, clock: clock, immuneMemory: memory,
                                 warn: { MedicLog.log.warning("medic: warning: \($0)") })
    }

    /// The stores of `interpreter`'s engine (`interpreter(root:)` gives it the state directory's).
    func stores(of interpreter: Interpreter) throws -> StateStores {
        guard let stores = interpreter.environment.stores else { throw CommandFailure("error: the engine has no state stores") }
        return stores
    }

    /// The gate stage of `catalog` for `interpreter`'s engine: its gates ask that engine's stores
    /// (none for a dry run's engine, whose gates read the state directory and create nothing).
    func gates(_ catalog: Catalog, for interpreter: Interpreter) -> GateStage {
        var stage = GateStage(catalog: catalog, stateDirectory: stateDirectoryPath, evaluator: interpreter.verifier.evaluator)
        stage.stores = interpreter.environment.stores
        return stage
    }

    /// The interpreter with the real executors and metric sources these options describe, in a
    /// new engine environment (`interpreter.environment`), with the state directory's stores
    /// unless `openingState` is false (a dry run writes no state). Its bus publishes to `--bus`,
    /// else to the stores' outbox (the same file for a dry run's engine, which has no stores).
    /// Every executor call goes through the engine's guards, whose breakers' changes of state
    /// are published on that bus.
    func interpreter(root: String, openingState: Bool = true) throws -> Interpreter {
        // Read first: a file with errors creates no state directory.
        var limits: ResilienceSettings?
        if let resilience {
            let (settings, diagnostics) = ResilienceConfiguration.load(path: resilience)
            guard let settings else { throw CommandFailure.diagnostics(diagnostics, "the resilience file has errors; fix them first") }
            limits = settings
        }
        let environment = openingState ? try environment() : EngineEnvironment(
            stateDirectory: stateDirectoryPath, clock: SystemClock(), warn: { MedicLog.log.warning("medic: warning: \($0)") })
        if let limits { environment.guards.reconfigure(limits) }
        let registry = try metricRegistry(file: metrics, root: root, environment: environment)
        let busExecutor: BusExecutor
        if bus == nil, let outbox = environment.stores?.outbox {
            busExecutor = BusExecutor(outbox: outbox, environment: environment)
        } else {
            busExecutor = BusExecutor(transport: bus ?? .outbox(path: StateStores.defaultOutboxPath(in: stateDirectoryPath)),
                                      environment: environment, standardOutput: busLine)
        }
        let executors = ExecutorSet(shell: ShellStepExecutor(environment: environment,
                                                             inheritedVariables: ShellCommand.defaultInherited + passEnvironment.map(\.name),
                                                             workingDirectory: workdir?.path),
                                    bus: busExecutor,
                                    http: HTTPExecutor(client: environment.http)).guarded(by: environment.guards)
        GuardTransitionPublisher(bus: busExecutor, warn: environment.warn).follow(environment.guards)
        let verifier = Verifier(evaluator: ConditionEvaluator(metrics: registry), clock: environment.clock)
        return Interpreter(executors: executors, verifier: verifier, environment: environment)
    }
}

/// The bus's `stdout` transport through the one writer of standard output.
let busLine: @Sendable (Data) throws -> Void = { try StandardStream.output.write(bytes: Array($0)) }

/// The metric sources of `file`, else of `metrics.yaml` under `root` when there is one, else the
/// built-in host metrics alone. A file with errors prints them and exits 1. Its sources use the
/// engine's HTTP client and running steps.
func metricRegistry(file: String?, root: String, environment: EngineEnvironment = EngineEnvironment()) throws -> MetricRegistry {
    let defaultMetrics = root + "/metrics.yaml"
    let metricsFile = file ?? (FileManager.default.fileExists(atPath: defaultMetrics) ? defaultMetrics : nil)
    guard let metricsFile else { return MetricRegistry(config: nil, sourcesFile: defaultMetrics) }
    let (loaded, diagnostics) = MetricSourcesLoader.load(path: metricsFile)
    guard let loaded, !diagnostics.contains(where: { $0.severity == .error }) else {
        throw CommandFailure.diagnostics(diagnostics, "the metric sources file has errors; fix them first")
    }
    return MetricRegistry(config: loaded, sourcesFile: metricsFile, http: environment.http, runningSteps: environment.runningSteps,
                          guards: environment.guards)
}
