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
            return try RunStore(directory: stateDirectoryPath)
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
        let defaultMetrics = root + "/metrics.yaml"
        let metricsFile = metrics ?? (FileManager.default.fileExists(atPath: defaultMetrics) ? defaultMetrics : nil)
        var config: MetricSourceConfig?
        if let metricsFile {
            let (loaded, diagnostics) = MetricSourcesLoader.load(path: metricsFile)
            if diagnostics.contains(where: { $0.severity == .error }) || loaded == nil {
                printError(DiagnosticRenderer.text(diagnostics))
                printError("the metric sources file has errors; fix them first")
                throw ExitCode(1)
            }
            config = loaded
        }
        let clock = SystemClock()
        for name in passEnvironment where name.isEmpty || name.contains("=") {
            throw ValidationError("--pass-env '\(name)' is not a variable name")
        }
        let executors = ExecutorSet(shell: ShellStepExecutor(inheritedVariables: ShellCommand.defaultInherited + passEnvironment,
                                                             workingDirectory: workdir),
                                    bus: BusExecutor(transport: transport, clock: clock), http: HTTPExecutor())
        let verifier = Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(config: config)), clock: clock)
        return Interpreter(executors: executors, verifier: verifier, clock: clock)
    }
}
