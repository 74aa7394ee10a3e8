import ArgumentParser
import Foundation
import MedicDetect
import MedicLoader
import MedicModel

struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Replay metric history through anomaly rules: what would have fired, and when.",
        discussion: """
            Reads RULES (a rules file, or a folder) with the loader, so mistakes are reported with \
            their file and line, then replays DATA through every rule, sample by sample, in file \
            order, exactly as `medic watch` would see it live: `for`, cooldowns and resolution are \
            measured on the samples' timestamps, never the clock. Nothing is run.

            Printed for each incident, as it resolves (then those still active when the data \
            ends): when it fired, the rule, the incident key (one incident per key: a flapping \
            series is one incident), first seen, resolved, peak value, playbook and the \
            parameters it would get; then a summary per rule. --json writes one JSON document.

            Playbook triggers (trigger: condition + duration) act as rules too: those of \
            playbooks under RULES, and with --root those of the library's playbooks \
            (--no-triggers leaves them out). A trigger condition the engine cannot evaluate is \
            reported and left out.

            DATA formats (by extension, or --format; for - (standard input), from the first line):
              .csv            timestamp,metric,value[,labels] with labels as host=a;path=/var,
                              or NAB's timestamp,value with --metric NAME
              .jsonl .json    {"ts": 1714557600, "metric": "disk_usage_percent",
                               "labels": {"path": "/var"}, "value": 91.5} per line
              .prom           Prometheus text exposition, every sample with a timestamp
            Timestamps: RFC 3339 (2024-05-01T10:00:00Z, offsets, fractions), \
            YYYY-MM-DD HH:MM:SS (UTC) or epoch seconds. DATA is read line by line, so files of \
            any size replay in bounded memory.

            A line that cannot be read is skipped and counted; the first \(reportedFailures) are \
            reported as DATA:LINE: reason on standard error.

            With --labels FILE (NAB's labels format: {"KEY": [["start", "end"], ...]}), each \
            rule is scored against the labelled anomaly windows of the series it reads: \
            precision (firings inside a window over all firings), recall (windows detected over \
            windows), the NAB score (--profile standard, low-fp or low-fn), each window detected \
            or missed and each false positive with its time, then what to change in the rule. \
            A firing is an anomaly that lasted the rule's `for` (opening an incident or folded \
            into one; one suppressed by the cooldown started nothing and does not count). A KEY \
            names a series as printed here (disk_usage_percent{host="a"}), else a metric, else \
            DATA's file (its path, or the end of it: realKnownCause/nyc_taxi.csv). As in NAB, the \
            first 15% of each series' samples (at most 750) are not scored.

            Exit status: 0 it ran (whether or not rules fired; with --labels, every window \
            detected and no false positive); 1 the rules have errors, DATA cannot be read, \
            (with --strict) some lines could not be, or (with --labels) a window was missed or a \
            rule fired outside every window; 2 usage, or a labels file that cannot be used (the \
            file and what is wrong in it; nothing is replayed) or that names no series of DATA.

            Example:
              $ cat rules/disk.yaml
              rules:
                - name: disk-filling
                  metric: disk_usage_percent
                  labels: {path: /var}
                  detector: threshold
                  params: {op: ">", value: 85}
                  for: 5m
                  severity: SEV2
                  playbook: disk-space-cleanup-001
                  parameters_from_labels: {paths: path}
                  cooldown: 30m
                  group_by: [host]
              $ medic backtest rules/disk.yaml history.csv
              $ medic backtest --root . rules/ history.jsonl --json | jq '.incidents[].fired'
              $ zcat history.jsonl.gz | medic backtest rules/disk.yaml - --strict
              $ medic backtest rules/temp.yaml machine_temperature_system_failure.csv \\
                  --metric machine_temperature --labels combined_windows.json
            """
    )

    static let reportedFailures = 5

    @Argument(help: "A rules file, or a folder of rules files (and playbooks, whose triggers act as rules).")
    var rules: String

    @Argument(help: "The metric history: CSV, JSON lines or Prometheus text; - for standard input.")
    var data: String

    @Option(help: "The library root (playbooks/ actions/ rules/ policies/): rules' playbooks resolve against it, and its playbooks' triggers act as rules. Default: the folder holding the rules/ folder RULES is in (else the current one), for references only.")
    var root: String?

    @Option(help: "DATA's format: \(SampleFormat.acceptedForms). Default: from its extension.", transform: SampleFormat.argument)
    var format: SampleFormat?

    @Option(help: "The metric of a CSV with only timestamp,value columns (NAB's format).")
    var metric: String?

    @Flag(help: "Leave playbook triggers out: only the rules files' rules.")
    var noTriggers = false

    @Option(help: ArgumentHelp("How long every series of an incident must stay normal before it resolves; 0 resolves on the first normal sample; \(Interval.acceptedForms). Default: 5m.",
                               valueName: "duration"),
            transform: Interval.argument)
    var resolveAfter = Interval(seconds: 300)

    @Option(help: "Series each rule keeps state for; samples of further series are dropped and counted.")
    var maxSeries: Int = 10_000

    @Option(help: ArgumentHelp("Labelled anomaly windows in NAB's format, {\"series, metric or data file\": [[\"start\", \"end\"], ...]}: each rule is scored against them (precision, recall, NAB score, each missed window and false positive).",
                               valueName: "file"))
    var labels: String?

    @Option(help: "The NAB profile of the score with --labels: \(LabelProfile.acceptedForms).", transform: LabelProfile.argument)
    var profile: LabelProfile = .standard

    @Flag(help: "Write the result as one JSON document.")
    var json = false

    @Flag(help: "Exit 1 when some lines of DATA could not be read.")
    var strict = false

    func validate() throws {
        if format == nil, data != "-", SampleFormat(path: data) == nil {
            throw ValidationError("cannot tell the format of '\(data)' from its extension (.csv, .jsonl, .json, .prom); give --format csv, jsonl or prometheus")
        }
        guard maxSeries >= 1 else { throw ValidationError("--max-series must be at least 1") }
        if labels == nil, profile != .standard {
            throw ValidationError("--profile scores against labelled windows: give --labels FILE")
        }
        if let metric, !metric.isEmpty, !metric.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }) || metric.first!.isNumber {
            throw ValidationError("--metric '\(metric)' is not a metric name (letters, digits, _ and :, not starting with a digit)")
        }
    }

    func run() throws {
        // The labels first: a file that cannot be used stops the backtest before anything is read.
        var scoring: LabelledScoring?
        if let labels {
            do {
                scoring = LabelledScoring(labels: try LabelledWindows.load(labels), profile: profile.nab, dataPath: data)
            } catch {
                throw CommandFailure("medic backtest: --labels \(error)", "nothing was replayed", exitCode: 2)
            }
        }
        let catalog = try loadRules()
        var engine = RuleEngine(rules: catalog.rules, triggers: noTriggers ? [] : catalog.triggers,
                                configuration: .init(maxSeriesPerRule: maxSeries, resolveAfter: resolveAfter.seconds))
        for rejection in engine.rejected { MedicLog.log.warning("medic backtest: left out: \(rejection)") }
        for replaced in engine.replacedTriggers { MedicLog.log.notice("medic backtest: note: \(replaced)") }
        guard !engine.statistics.isEmpty else {
            throw CommandFailure("medic backtest: \(rules) holds no anomaly rules\(noTriggers ? "" : " and no playbook triggers") to replay")
        }
        do {
            try replay(into: &engine, scoring: &scoring, rules: catalog.rules)
        } catch let failure as SampleFeed.Failure {
            throw CommandFailure(failure.description)
        }
    }

    /// DATA through the rule engine: the report on standard output as the incidents resolve.
    private func replay(into engine: inout RuleEngine, scoring: inout LabelledScoring?, rules: [AnomalyRule]) throws {
        var replay = try SampleFeed(source: data, format: format, metric: metric, reportedFailures: Self.reportedFailures,
                                    report: { MedicLog.log.warning("\($0)") })
        var report = BacktestReport(format: json ? .json : .text)
        var output = OutputBuffer()
        output.append(report.begin())
        while let sample = try replay.next() {
            scoring?.observe(sample, engine: engine)
            let events = engine.ingest(sample)
            scoring?.record(events)
            for case .resolved(let incident) in events {
                output.append(report.incident(incident))
                try output.flushIfFull()
            }
        }
        // The end of the data: incidents whose series had all recovered resolve at their recovery.
        for case .resolved(let incident) in engine.advance(to: .infinity) { output.append(report.incident(incident)) }
        let active = engine.activeIncidents
        for incident in active { output.append(report.incident(incident)) }
        var labelled: LabelledResult?
        if let scoring {
            do {
                labelled = try scoring.result(order: engine.statistics.map(\.rule))
            } catch {
                try output.flush()
                throw CommandFailure("medic backtest: --labels \(error)", exitCode: 2)
            }
        }
        let ruleTable = Dictionary(rules.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        output.append(report.end(statistics: engine.statistics, active: active.count, rejected: engine.rejected, data: replay.summary,
                                 labels: labelled.map { (result: $0, rules: ruleTable) }))
        try output.flush()
        if replay.summary.skipped > Self.reportedFailures {
            MedicLog.log.warning("\(replay.name): \(replay.summary.skipped - Self.reportedFailures) more lines could not be read")
        }
        if let labelled {
            guard !labelled.rules.isEmpty else {
                let keys = labelled.unmatchedKeys.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
                let unmatched = keys.isEmpty ? "" : " (keys naming nothing in DATA: \(keys)\(labelled.unmatchedKeys.count > 5 ? ", ..." : ""))"
                throw CommandFailure("medic backtest: --labels \(labelled.file): no rule reads a series the labels name\(unmatched); "
                    + "a key is a series as the backtest prints it, a metric, or DATA's file name", exitCode: 2)
            }
            if labelled.rules.contains(where: \.hasFindings) { throw ExitCode(1) }
        }
        if strict && replay.summary.skipped > 0 { throw ExitCode(1) }
    }

    /// The rules and triggers to replay, with the loader's diagnostics printed. A rule naming a
    /// playbook that is not loaded (M310) does not stop a backtest: it is reported as a warning.
    private func loadRules() throws -> (rules: [AnomalyRule], triggers: [PlaybookTrigger]) {
        let context = CatalogLoader.libraryPaths(under: root ?? Self.library(of: rules))
        let loaded = CatalogLoader().load(paths: [rules], context: context)
        let diagnostics = loaded.diagnostics.map { d -> Diagnostic in
            var d = d
            if d.code == .unknownPlaybook, d.severity == .error {
                d.severity = .warning
                d.hint = "the backtest runs without it; give --root with the playbook library to check the name"
            }
            return d
        }
        if diagnostics.hasErrors {
            throw CommandFailure(DiagnosticRenderer.text(diagnostics), "medic backtest: \(rules) has errors; nothing was replayed")
        }
        if !diagnostics.isEmpty { MedicLog.log.warning("\(DiagnosticRenderer.text(diagnostics))") }
        // Rules: those under RULES (the library's are context only). Triggers: the playbooks under
        // RULES, and the library's when --root names it.
        let rules = loaded.files.filter { !$0.isContext }.flatMap(\.rules)
        let playbooks = loaded.files.filter { !$0.isContext || root != nil }.compactMap(\.playbook)
        return (rules, PlaybookTrigger.all(in: playbooks))
    }
}

extension BacktestCommand {
    /// The library RULES belongs to, when --root is not given: the folder holding the `rules/`
    /// folder that RULES is or is in (`rules/`, `lib/rules/host.yaml`); else the current one.
    static func library(of rules: String) -> String {
        var url = URL(fileURLWithPath: rules).standardizedFileURL
        var isDirectory: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            url = url.deletingLastPathComponent()
        }
        while url.path != "/" {
            if url.lastPathComponent == "rules" { return url.deletingLastPathComponent().path }
            url = url.deletingLastPathComponent()
        }
        return "."
    }
}

/// `backtest --profile`: NAB's cost profile of the score against labelled windows.
enum LabelProfile: String, CaseIterable, DescribedArgument {
    case standard
    case lowFalsePositives = "low-fp"
    case lowFalseNegatives = "low-fn"

    init?(argument: String) {
        guard let profile = Self.allCases.first(where: { $0.rawValue == argument || $0.nab.name == argument }) else { return nil }
        self = profile
    }

    static var acceptedForms: String {
        "standard, low-fp (NAB's reward_low_FP_rate: a false positive costs twice as much) or low-fn (reward_low_FN_rate: a missed window costs twice as much)"
    }

    var nab: NABProfile {
        switch self {
        case .standard: .standard
        case .lowFalsePositives: .rewardLowFalsePositives
        case .lowFalseNegatives: .rewardLowFalseNegatives
        }
    }
}
