import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge
import MedicLoader
import MedicModel

struct KnowledgeAdviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Optimisation hints from the incident history (docs/knowledge.md): failing steps, slow steps, false positives.",
        discussion: """
            Findings, per playbook (and step), over the incidents whose run started
            within --since:
              low_success_rate: a step succeeded in less than 80% of its executions.
              slow_execution: a step's mean duration is more than 1.5x its median over
                the whole history; with --root, also a playbook whose mean execution
                time is more than 1.5x its metadata.avg_execution_time.
              high_false_positive_rate: more than 20% of its detected incidents were
                denied by a person.

            Exactly at a threshold is not a finding. A finding needs at least \
            --min-executions executions (or runs, or detected incidents) behind it, so one \
            failure is not one; step executions without a duration are ignored for timing. \
            Each finding says the value, the threshold, the sample size and the \
            recommendation. The exact definitions are in docs/knowledge.md.

            Exit status: 0 no findings, 1 findings (like a linter), 2 a usage error or a --root \
            whose catalog has errors.

            Examples:
              medic kb advise
              medic kb advise --since 7d --min-executions 10
              medic kb advise --since all --root . --json
            """
    )

    @Option(help: "Only incidents whose run started within this long before now: \(Lookback.acceptedForms). Default: 30d.",
            transform: Lookback.argument)
    var since: Lookback = .last(Interval(seconds: 30 * 86400))

    @Option(name: .customLong("min-executions"), help: "The least executions, runs or detected incidents behind a finding.")
    var minimumExecutions: Int = AdviceConfiguration.defaultMinimumExecutions

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: "The library (playbooks/ …): also compare each playbook's runs with its metadata.avg_execution_time.")
    var root: String?

    @Flag(help: "Print one JSON object: {\"since\", \"configuration\", \"findings\": [{\"playbook_id\", \"step\", \"issue\", \"value\", \"threshold\", \"sample_size\", \"recommendation\", ...}]}.")
    var json = false

    mutating func validate() throws {
        guard minimumExecutions >= 1 else { throw ValidationError("--min-executions must be at least 1") }
    }

    mutating func run() async throws {
        let from = since.start(before: SystemClock().now)
        let configuration = AdviceConfiguration(minimumExecutions: minimumExecutions)
        let declared = try root.map(Self.declaredAverages(under:)) ?? [:]
        let directory = KnowledgeBase.defaultDirectory(inState: stateDirectory ?? RunStore.defaultDirectory())
        let advice: Advice
        if FileManager.default.fileExists(atPath: directory) {
            let (result, problems) = try KnowledgeBase(directory: directory, create: false)
                .advice(since: from, configuration: configuration, declaredAverages: declared)
            for problem in problems { MedicLog.log.warning("medic: warning: \(problem)") }
            advice = result
        } else {
            advice = AdviceBuilder(since: from, configuration: configuration).result()
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(advice), as: UTF8.self))
        } else {
            writeOut(KnowledgeAdviceRenderer.text(advice))
        }
        if !advice.findings.isEmpty { throw ExitCode(1) }
    }

    /// `metadata.avg_execution_time` (seconds) of each playbook of the library under `root`.
    static func declaredAverages(under root: String) throws -> [String: Double] {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let error as CatalogStage.Failure {
            throw CommandFailure.catalog(error, "the catalog under '\(root)' has errors; fix them (medic validate) first", exitCode: 2)
        }
        var averages: [String: Double] = [:]
        for playbook in catalog.playbooks {
            if let average = playbook.metadata.avgExecutionTime { averages[playbook.id] = average.seconds }
        }
        return averages
    }
}

/// `medic kb advise` as text: one block per playbook, a line per finding and its recommendation.
enum KnowledgeAdviceRenderer {
    static func text(_ advice: Advice) -> String {
        let window = advice.since.map { "since \($0)" } ?? "over the whole history"
        guard !advice.findings.isEmpty else {
            return "No optimisation hints \(window) (findings need at least \(advice.configuration.minimumExecutions) executions).\n"
        }
        let count = advice.findings.count
        var out = "\(count) optimisation hint\(count == 1 ? "" : "s") \(window):\n"
        var playbook: String?
        for finding in advice.findings {
            if finding.playbookID != playbook {
                playbook = finding.playbookID
                out += "\n\(finding.playbookID)\n"
            }
            let subject = finding.step.map { "step \($0)" + (finding.stepName.map { " \($0)" } ?? "") } ?? "playbook"
            out += "  \(subject): \(finding.issue.rawValue): \(measure(finding, factor: advice.configuration.slowFactor))\n"
            out += "    -> \(finding.recommendation)\n"
        }
        return out
    }

    private static func measure(_ f: Finding, factor: Double) -> String {
        let percent = KnowledgeStatsRenderer.percent, seconds = KnowledgeStatsRenderer.seconds
        switch f.issue {
        case .lowSuccessRate:
            return "success rate \(percent(f.value)) < \(percent(f.threshold)) over \(f.sampleSize) executions"
        case .highFalsePositiveRate:
            return "false-positive rate \(percent(f.value)) > \(percent(f.threshold)) over \(f.sampleSize) detected incidents"
        case .slowExecution:
            let basis = f.baseline == .declaredAverage ? "the declared avg_execution_time" : "the step's median over the history"
            let what = f.step == nil ? "runs" : "timed executions"
            return "mean \(seconds(f.value)) > \(seconds(f.threshold)) (\(String(format: "%g", factor))x \(seconds(f.expected)), \(basis)) over \(f.sampleSize) \(what)"
        }
    }
}
