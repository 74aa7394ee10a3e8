import ArgumentParser
import Foundation
import MedicDetect
import MedicEngine
import MedicLoader
import MedicModel

struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Chaos experiments: inject a fault, let Medic detect and heal it, verify, always revert (docs/chaos.md).",
        discussion: """
            An experiment (Medic's format, or Chaos Toolkit's) names its targets (each labelled \
            chaos_allowed: "true"), the steady state, the fault (inject and revert), the rule that \
            should detect it and the playbook that should heal it. `medic chaos run` checks the steady \
            state, injects the fault, runs the library's watch (rules, gates, interpreter) until the \
            steady state is verified again, and always reverts the fault: also on SIGINT or SIGTERM, on \
            timeout, and, after a crash of Medic, at the next `medic chaos run`, `campaign` or `recover` \
            (the journal under <state-dir>/chaos/ says what is left to revert). One experiment at a \
            time per state directory; never while Medic is paused.

            Exit status: 0 healed and reverted, 1 not healed or not reverted, 2 usage (a bad experiment file).

            Examples (the first in examples/chaos):
              medic chaos run experiments/1-web-killed.yaml --approved-by alice
              medic chaos campaign examples/chaos --approved-by alice --json
              medic chaos recover
            """,
        subcommands: [ChaosRunCommand.self, ChaosCampaignCommand.self, ChaosRecoverCommand.self]
    )
}

/// What `chaos run` and `chaos campaign` share.
struct ChaosOptions: ParsableArguments {
    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("Time between two rounds of the watch's sampling, \(Interval.acceptedForms). Default: 1s.", valueName: "duration"),
            transform: Interval.argument)
    var interval = Interval(seconds: 1)

    @Option(name: .customLong("approved-by"),
            help: "Approve, as NAME, the expected playbook's run when a gate asks for a person (safe mode for a playbook new here); journaled and audited.")
    var approvedBy: String?

    @Option(name: .customLong("target"),
            help: ArgumentHelp("NAME[,LABEL=VALUE...]: a target of an experiment that names none (a Chaos Toolkit one); it must carry chaos_allowed=true (repeatable).",
                               valueName: "target"))
    var targets: [String] = []

    @Flag(help: "Print one JSON object at the end instead of progress lines.")
    var json = false

    func validate() throws {
        guard interval.seconds > 0 else { throw ValidationError("--interval '\(interval)' is not a duration above 0 (such as 1s)") }
        if let approvedBy, approvedBy.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--approved-by needs a name") }
        for target in targets {
            do { _ = try TargetSources.parse(flag: target) } catch { throw ValidationError("--target '\(target)': \(error)") }
        }
    }
}

/// One command's experiments: the lock, the recovery of what a dead Medic left, the signals, and
/// the engine each experiment runs on.
struct ChaosSession {
    let options: ChaosOptions
    let root: String
    let stop = ChaosStop()
    var workdir: String { options.engine.workdir?.path ?? URL(fileURLWithPath: root).standardizedFileURL.path }

    func note(_ text: String) {
        if options.json { MedicLog.log.notice("\(text)") } else { printLine(text) }
    }

    /// Takes the lock (one experiment at a time), installs the signal handlers, and reverts what
    /// an earlier Medic left unreverted.
    func begin() async throws -> ChaosLock {
        let lock = try Self.lock(options.engine.stateDirectoryPath)
        ChaosSignals.install(stop)
        for recovered in await Self.recover(options.engine, workdirFallback: workdir) {
            note("recovered \(recovered.experiment) (\(recovered.journal)): "
                 + (recovered.reverted && recovered.cleanedUp ? "its fault is reverted" : "the revert failed; `medic chaos recover` tries again"))
            guard recovered.reverted else { throw CommandFailure("error: an earlier experiment's fault could not be reverted; no new fault is injected until it is") }
        }
        return lock
    }

    static func lock(_ stateDirectory: String) throws -> ChaosLock {
        let (lock, holder) = try ChaosLock.acquire(stateDirectory: stateDirectory)
        guard let lock else { throw CommandFailure("error: another chaos experiment is running in \(stateDirectory) (\(holder)); one at a time") }
        return lock
    }

    static func recover(_ engine: EngineOptions, workdirFallback: String) async -> [ChaosRecovery.Recovered] {
        let inherited = ShellCommand.defaultInherited + engine.passEnvironment.map(\.name)
        let http = HTTPExecutor()
        return await ChaosRecovery.recover(stateDirectory: engine.stateDirectoryPath, now: { Date() }) { workdir in
            ChaosActivityRunner(shell: ShellStepExecutor(inheritedVariables: inherited, workingDirectory: workdir ?? workdirFallback), http: http)
        }
    }

    func load(_ path: String) throws -> ChaosExperiment {
        var experiment: ChaosExperiment
        do {
            experiment = try ChaosExperimentLoader.load(path: path)
        } catch let error as ChaosExperimentError {
            var failure = CommandFailure("error: \(path): the experiment has errors; nothing was run", exitCode: 2)
            failure.lines.insert(contentsOf: error.problems, at: 0)
            throw failure
        }
        if experiment.targets.isEmpty { experiment.targets = options.targets.compactMap { try? TargetSources.parse(flag: $0) } }
        return experiment
    }

    func run(_ experiment: ChaosExperiment, controlPeriod: Double) async throws -> ChaosReport {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure, "the library has errors; fix them (medic validate) first")
        }
        var engine = options.engine
        if engine.workdir == nil { engine.workdir = WorkingDirectory(argument: workdir) }
        let interpreter = try engine.interpreter(root: root)
        let stores = try engine.stores(of: interpreter)
        let sampler = LiveSampler(catalog: catalog, registry: try metricRegistry(file: engine.metrics, root: root, environment: interpreter.environment),
                                  scrapeURLs: [], client: interpreter.environment.http)
        let stop = stop
        let activities = ChaosActivityRunner(
            shell: ShellStepExecutor(inheritedVariables: ShellCommand.defaultInherited + engine.passEnvironment.map(\.name), workingDirectory: workdir),
            http: HTTPExecutor(client: interpreter.environment.http), stopping: { stop.signal != nil })
        var settings = ChaosRunner.Settings()
        settings.interval = options.interval.seconds
        settings.controlPeriod = controlPeriod
        settings.approvedBy = options.approvedBy
        settings.workdir = workdir
        let json = options.json
        let runner = ChaosRunner(catalog: catalog, interpreter: interpreter, stores: stores, stateDirectory: engine.stateDirectoryPath,
                                 sampler: sampler, activities: activities, settings: settings, stop: stop,
                                 note: { text in if json { MedicLog.log.notice("\(text)") } else { printLine(text) } })
        note("experiment \(experiment.id): \(experiment.title)")
        return await runner.run(experiment)
    }

    /// After a signal: exit as a signal stops every command (128 + the signal), the fault reverted.
    func exitIfStopped() {
        if let signo = stop.signal { exit(128 + signo) }
    }
}

/// SIGINT, SIGTERM, SIGHUP: the first asks the experiment to stop (it reverts the fault, then
/// Medic exits); a second exits at once, leaving the revert to `medic chaos recover`.
enum ChaosSignals {
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install(_ stop: ChaosStop) {
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                if stop.signal != nil {
                    MedicLog.log.notice("medic: stopped again by signal \(signo): exiting now; `medic chaos recover` reverts the fault")
                    exit(128 + signo)
                }
                MedicLog.log.notice("medic: stopped by signal \(signo); reverting the fault before exiting")
                stop.request(signal: signo)
            }
            source.resume()
            sources.append(source)
        }
    }
}

func printChaosJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    printLine(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct ChaosRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one chaos experiment: steady state, fault, detection and healing by the watch, verification, revert.")

    @Argument(help: "The experiment file (Medic's format or Chaos Toolkit's; YAML or JSON).")
    var experiment: String

    @Option(help: "The library whose rules detect and whose playbooks heal (and where activities run). Default: .")
    var root: String = "."

    @Option(name: .customLong("control-period"),
            help: ArgumentHelp("Watch this long with no fault first; its incidents are false positives. Default: 0s.", valueName: "duration"),
            transform: Interval.argument)
    var controlPeriod = Interval(seconds: 0)

    @OptionGroup var options: ChaosOptions

    mutating func run() async throws {
        let session = ChaosSession(options: options, root: root)
        let experiment = try session.load(self.experiment)
        let lock = try await session.begin()
        let report = try await session.run(experiment, controlPeriod: controlPeriod.seconds)
        if options.json { try printChaosJSON(report) } else { printLine(ChaosText.line(report)) }
        withExtendedLifetime(lock) {}
        session.exitIfStopped()
        throw ExitCode(report.exitCode)
    }
}

struct ChaosCampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Run every experiment under DIR/experiments with quiet control periods; report MTTD, MTTR, success and false positives.")

    @Argument(help: "The campaign folder: experiments/ and, unless --root says otherwise, the library.")
    var directory: String

    @Option(help: "The library whose rules detect and whose playbooks heal. Default: DIR.")
    var root: String?

    @Option(name: .customLong("control-period"),
            help: ArgumentHelp("Watching with no fault before each experiment; its incidents are false positives. Default: 5s.", valueName: "duration"),
            transform: Interval.argument)
    var controlPeriod = Interval(seconds: 5)

    @OptionGroup var options: ChaosOptions

    mutating func run() async throws {
        let files = ChaosCampaignSummary.experimentFiles(in: directory)
        guard !files.isEmpty else { throw ValidationError("no experiment under \(directory)/experiments (.yaml, .yml or .json files)") }
        let session = ChaosSession(options: options, root: root ?? directory)
        let experiments = try files.map(session.load)
        let lock = try await session.begin()
        var reports: [ChaosReport] = []
        for experiment in experiments {
            let report = try await session.run(experiment, controlPeriod: controlPeriod.seconds)
            if !options.json { printLine(ChaosText.line(report)) }
            reports.append(report)
            if session.stop.signal != nil { break }
        }
        let summary = ChaosCampaignSummary(reports)
        do {
            try summary.record(inState: options.engine.stateDirectoryPath, campaignDirectory: directory, finishedAt: SystemClock().now)
        } catch {
            MedicLog.log.warning("medic: warning: the campaign's outcome was not recorded in the knowledge base: \(error)")
        }
        if options.json { try printChaosJSON(summary) } else { printLine(ChaosText.table(summary)) }
        withExtendedLifetime(lock) {}
        session.exitIfStopped()
        throw ExitCode(summary.passed ? 0 : 1)
    }
}

struct ChaosRecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Revert the faults (and run the teardowns) that experiments whose Medic died left behind.")

    @OptionGroup var engine: EngineOptions

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    mutating func run() async throws {
        let lock = try ChaosSession.lock(engine.stateDirectoryPath)
        let recovered = await ChaosSession.recover(engine, workdirFallback: FileManager.default.currentDirectoryPath)
        withExtendedLifetime(lock) {}
        if json {
            try printChaosJSON(["recovered": recovered])
        } else if recovered.isEmpty {
            printLine("Nothing to recover: every experiment's fault was reverted.")
        } else {
            for item in recovered {
                let what = item.revertNeeded ? (item.reverted ? "fault reverted" : "the revert FAILED") : "no fault to revert"
                printLine("\(item.experiment): \(what); teardown \(item.cleanedUp ? "done" : "FAILED") (\(item.journal))")
                for result in item.results where !result.succeeded { printLine("  \(result.name): \(result.summary)") }
            }
        }
        throw ExitCode(recovered.allSatisfy { $0.reverted && $0.cleanedUp } ? 0 : 1)
    }
}

/// The text forms of experiments and campaigns.
enum ChaosText {
    static func seconds(_ value: Double?) -> String { value.map { String(format: "%.1fs", $0) } ?? "-" }

    static func line(_ report: ChaosReport) -> String {
        "\(report.experiment): \(report.outcome.rawValue), \(report.reverted ? "reverted" : "NOT reverted")"
            + (report.cleanedUp ? "" : ", teardown FAILED")
            + " (detect \(seconds(report.timeToDetect)), recover \(seconds(report.timeToRecover))): \(report.reason)"
    }

    static func table(_ summary: ChaosCampaignSummary) -> String {
        func percent(_ value: Double?) -> String { value.map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
        func row(_ cells: [String]) -> String {
            zip(cells, [20, 5, 7, 9, 8, 8, 8, 8, 8]).map { cell, width in cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0) }
                .joined(separator: " ").trimmingCharacters(in: .whitespaces)
        }
        var lines = [row(["fault type", "runs", "healed", "reverted", "MTTD", "max TTD", "recover", "max rec", "MTTR"])]
        for f in summary.faults + [summary.overall] {
            lines.append(row([f.faultType, "\(f.experiments)", "\(f.healed)", "\(f.reverted)", seconds(f.meanTimeToDetect), seconds(f.maxTimeToDetect),
                              seconds(f.meanTimeToRecover), seconds(f.maxTimeToRecover), seconds(f.meanTimeToRemediate)]))
        }
        lines.append("incidents \(summary.incidents), false positives \(summary.falsePositives) (\(percent(summary.falsePositiveRate))), detection accuracy \(percent(summary.detectionAccuracy))")
        for target in summary.targets {
            let value = target.kpi.contains("rate") || target.kpi.contains("accuracy") ? percent(target.value) : seconds(target.value)
            lines.append("\(target.met ? "met    " : "MISSED ") \(target.kpi) \(value) (target \(target.target))")
        }
        lines.append(summary.passed ? "every experiment healed and was reverted" : "NOT every experiment healed and was reverted")
        return lines.joined(separator: "\n")
    }
}
