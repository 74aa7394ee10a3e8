import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// Where a run keeps its state and what it talks to: shared by `run`, `resume` and `demo`.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"),
            help: "The state directory (run journals, bus outbox). Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: ArgumentHelp(
        "Where bus steps and escalations publish their CloudEvents: outbox:PATH, webhook:URL or stdout.",
        discussion: "Default: outbox:<state-dir>/outbox.jsonl"))
    var bus: String?

    @Option(help: "A metric sources file (which source serves which metric). Default: metrics.yaml under --root when present.")
    var metrics: String?

    @Option(help: "The working directory of shell steps. Default: Medic's own.")
    var workdir: String?

    @Option(name: .customLong("pass-env"), help: ArgumentHelp(
        "A variable of Medic's environment that shell steps may see (repeatable).",
        discussion: "Always passed: \(ShellCommand.defaultInherited.joined(separator: " ")). Nothing else is, unless named here."))
    var passEnvironment: [String] = []

    var stateDirectoryPath: String { stateDirectory ?? RunStore.defaultDirectory() }

    func store() throws -> RunStore {
        do {
            let store = try RunStore(directory: stateDirectoryPath)
            StopSignals.store = store
            return store
        } catch let error as JournalError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
    }

    /// The interpreter with the real executors and metric sources these options describe.
    func interpreter(root: String) throws -> Interpreter {
        let transport: BusTransport
        do {
            transport = try bus.map(BusTransport.parse) ?? .outbox(path: stateDirectoryPath + "/outbox.jsonl")
        } catch let error as ExecutorError {
            throw ValidationError("--bus: \(error.description)")
        }
        if let workdir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: workdir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--workdir '\(workdir)' is not a directory")
            }
        }
        let registry = try metricRegistry(file: metrics, root: root)
        let clock = SystemClock()
        for name in passEnvironment where name.isEmpty || name.contains("=") {
            throw ValidationError("--pass-env '\(name)' is not a variable name")
        }
        let executors = ExecutorSet(shell: ShellStepExecutor(inheritedVariables: ShellCommand.defaultInherited + passEnvironment,
                                                             workingDirectory: workdir),
                                    bus: BusExecutor(transport: transport, clock: clock, standardOutput: busLine), http: HTTPExecutor())
        let verifier = Verifier(evaluator: ConditionEvaluator(metrics: registry), clock: clock)
        var interpreter = Interpreter(executors: executors, verifier: verifier, clock: clock)
        interpreter.incidentRecordFailed = { printError("medic: warning: \($0)") }
        return interpreter
    }
}

/// The bus's `stdout` transport through the one writer of standard output.
let busLine: @Sendable (Data) throws -> Void = { try StandardStream.output.write(bytes: Array($0)) }

/// The metric sources of `file`, else of `metrics.yaml` under `root` when there is one, else the
/// built-in host metrics alone. A file with errors prints them and exits 1.
func metricRegistry(file: String?, root: String) throws -> MetricRegistry {
    let defaultMetrics = root + "/metrics.yaml"
    let metricsFile = file ?? (FileManager.default.fileExists(atPath: defaultMetrics) ? defaultMetrics : nil)
    guard let metricsFile else { return MetricRegistry(config: nil, sourcesFile: defaultMetrics) }
    let (loaded, diagnostics) = MetricSourcesLoader.load(path: metricsFile)
    guard let loaded, !diagnostics.contains(where: { $0.severity == .error }) else {
        printError(DiagnosticRenderer.text(diagnostics))
        printError("the metric sources file has errors; fix them first")
        throw ExitCode(1)
    }
    return MetricRegistry(config: loaded, sourcesFile: metricsFile)
}
