import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge

extension Report.Kind: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the daily or weekly self-healing report (docs/reports.md) as Markdown and HTML.",
        discussion: """
            Reads the incident history (<state-dir>/knowledge/incident-history.jsonl) and writes \
            two files to --out: medic-report-KIND-DATE.md and medic-report-KIND-DATE.html (DATE: \
            the UTC date of --at), then prints their paths. The HTML page is self-contained \
            (inline CSS and SVG charts, no script, nothing fetched): open it in any browser.

            daily: the 24 hours ending at --at, charted by hour. weekly: the 7 days ending at \
            --at, charted by day, with a table per day and the performance of every playbook.

            Sections: summary (incidents, auto-remediated, manual intervention, open) and the \
            KPIs (docs/knowledge.md) against their targets; highlights (SEV0/SEV1 incidents, playbook \
            failures); top issues (categories, services, slowest remediations); action items \
            (playbooks needing review, failed auto-remediations by run id); charts (MTTD/MTTR \
            trend, incidents by category, resolution methods, top playbooks by usage).

            An incident belongs to the period when its run started in it. Runs still going have \
            no record yet and are not counted. No knowledge base: an empty report. Lines of the \
            history that cannot be read are warnings on standard error (with their line \
            numbers); the rest is reported. The same history and --at give the same files, byte \
            for byte. Definitions: docs/reports.md.

            Exit codes: 0 written, 1 the history cannot be read, 2 a bad --at, --out or --min-runs.

            Examples:
              medic report daily                       the last 24 hours, files here
              medic report weekly --out reports/       the last 7 days, into reports/
              medic report daily --at 2026-11-23T08:00:00Z --state-dir /var/lib/medic
              medic report weekly --json | jq .kpis    the figures as JSON, no files
            """
    )

    @Argument(help: "daily (the last 24 hours) or weekly (the last 7 days).")
    var kind: Report.Kind

    @Option(help: "The directory to write the two files to, created when absent. Default: the current directory.")
    var out: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: "The end of the period: \(DateTimeArgument.acceptedForms). Default: now.", transform: DateTimeArgument.argument)
    var at: DateTimeArgument?

    @Option(name: .customLong("min-runs"), help: "Runs in the period a playbook needs before its success rate puts it under review.")
    var minimumRuns = 3

    @Flag(help: "Print the report's figures as one JSON object instead of writing files.")
    var json = false

    mutating func run() async throws {
        let end = at?.secondsSince1970 ?? (SystemClock().now.timeIntervalSince1970 * 1000).rounded(.down) / 1000
        guard minimumRuns >= 1 else { throw ValidationError("--min-runs must be at least 1") }
        let directory = out ?? FileManager.default.currentDirectoryPath
        if !json { try Self.prepare(directory) }

        let knowledge = KnowledgeBase.defaultDirectory(inState: stateDirectory ?? RunStore.defaultDirectory())
        let report: Report
        do {
            if FileManager.default.fileExists(atPath: knowledge) {
                let base = try KnowledgeBase(directory: knowledge, create: false)
                let (result, problems) = try base.incidentReport(kind, at: end, minimumRunsForReview: minimumRuns)
                for problem in problems { MedicLog.log.warning("medic: warning: \(problem)") }
                report = result
            } else {
                report = ReportBuilder(kind: kind, at: end, minimumRunsForReview: minimumRuns).result()
            }
        } catch {
            throw CommandFailure("medic: cannot read the incident history: \(error)")
        }

        if json {
            writeOut(String(decoding: try report.json(), as: UTF8.self) + "\n")
            return
        }
        let campaigns = try Self.campaigns(in: knowledge, of: report)
        let base = (directory as NSString).appendingPathComponent(report.baseName)
        for (path, text) in [(base + ".md", MarkdownReport.render(report, campaigns: campaigns)),
                             (base + ".html", HTMLReport.render(report, campaigns: campaigns))] {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw CommandFailure("medic: cannot write \(path): \((error as NSError).localizedDescription)")
            }
            writeOut(path + "\n")
        }
    }

    /// The chaos campaigns that finished in the report's period (`medic chaos campaign` records
    /// them); lines that are not campaigns are warnings.
    static func campaigns(in knowledge: String, of report: Report) throws -> [ChaosCampaignOutcome] {
        guard let from = ReportTime.parse(report.from), let to = ReportTime.parse(report.to) else { return [] }
        do {
            let (campaigns, problems) = try ChaosCampaignOutcome.finished(in: knowledge, from: from, to: to)
            for problem in problems { MedicLog.log.warning("medic: warning: \(problem)") }
            return campaigns
        } catch {
            throw CommandFailure("medic: cannot read the chaos campaigns: \(error)")
        }
    }

    /// Makes sure `directory` is a directory, creating it when absent; a usage error otherwise.
    static func prepare(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--out '\(directory)' is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("--out '\(directory)' cannot be created: \((error as NSError).localizedDescription)")
        }
    }
}
