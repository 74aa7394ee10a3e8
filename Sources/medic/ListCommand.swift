import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List what the library under --root defines: playbooks, actions, rules, policies.",
        discussion: """
            Loads playbooks/ actions/ rules/ policies/ under --root, as `medic run` and \
            `medic watch` would, and lists each item with its id, where it is defined and what \
            matters when choosing it: a playbook's version, severity, category and trigger, with \
            the rules that start it; an action's executor and risk; a rule's metric, detector, \
            severity and playbooks; each policy entry with its kind. A library with errors is \
            listed as far as it loaded; the errors go to standard error and the exit status is 1.

            --json prints one object with the four lists; its shape is schemas/output/list.schema.json.

            Examples:
              medic list
              medic list --root /etc/medic --json
            """
    )

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    @Flag(help: "Print the lists as one JSON object.")
    var json = false

    func run() throws {
        let result = CatalogLoader().load(paths: CatalogLoader.libraryPaths(under: root))
        let listing = LibraryListing(result.catalog, root: root)
        writeOut(json ? PlanRenderer.encodeJSON(listing) : listing.text)
        if result.hasErrors {
            throw CommandFailure.diagnostics(result.diagnostics.filter { $0.severity == .error },
                                             "the library under '\(root)' has errors (medic validate shows them all); listed as far as it loaded")
        }
    }
}

/// What `medic list` shows; encoded as JSON with snake_case keys (schemas/output/list.schema.json).
struct LibraryListing: Encodable {
    struct Place: Encodable {
        var file: String
        var line: Int?

        init(_ location: SourceLocation) {
            file = location.file
            line = location.line
        }

        var text: String { line.map { "\(file):\($0)" } ?? file }
    }

    struct PlaybookEntry: Encodable {
        struct TriggerEntry: Encodable {
            var condition: String
            var duration: String?
        }

        var id: String
        var name: String
        var version: String
        var category: String
        var severity: String
        var trigger: TriggerEntry?
        /// The rules files' rules that name this playbook.
        var rules: [String]
        var steps: Int
        var place: Place
    }

    struct ActionEntry: Encodable {
        var name: String
        var executor: String
        var riskLevel: String
        var idempotent: Bool
        var place: Place
    }

    struct RuleEntry: Encodable {
        var name: String
        var metric: String
        var detector: String
        var severity: String
        var duration: String?
        var playbooks: [String]
        var place: Place
    }

    struct PolicyEntry: Encodable {
        var kind: String
        var name: String
        var severity: String?
        var place: Place?
        /// What the entry says, in a line (the retention policy's ages).
        var summary: String?
    }

    var root: String
    var playbooks: [PlaybookEntry]
    var actions: [ActionEntry]
    var rules: [RuleEntry]
    var policies: [PolicyEntry]

    init(_ catalog: Catalog, root: String) {
        self.root = root
        playbooks = catalog.playbooks.sorted { $0.id < $1.id }.map { playbook in
            PlaybookEntry(
                id: playbook.id, name: playbook.name, version: playbook.version, category: playbook.category.rawValue,
                severity: playbook.severity.code,
                trigger: playbook.trigger.map { .init(condition: $0.condition.source, duration: $0.duration?.description) },
                rules: catalog.rules.filter { $0.playbooks.contains(playbook.id) }.map(\.name).sorted(),
                steps: playbook.steps.count, place: Place(playbook.location))
        }
        actions = catalog.actions.sorted { $0.name < $1.name }.map {
            ActionEntry(name: $0.name, executor: $0.executor.rawValue, riskLevel: $0.riskLevel.rawValue, idempotent: $0.idempotent,
                        place: Place($0.location))
        }
        rules = catalog.rules.sorted { $0.name < $1.name }.map {
            RuleEntry(name: $0.name, metric: $0.metric.description, detector: $0.detector.kind.rawValue, severity: $0.severity.code,
                      duration: $0.sustain?.description, playbooks: $0.playbooks, place: Place($0.location))
        }
        policies = Self.policies(catalog.policies)
    }

    private static func policies(_ p: Policies) -> [PolicyEntry] {
        var entries: [PolicyEntry] = []
        entries += p.severityLevels.map { .init(kind: "severity_level", name: $0.name, severity: $0.severity.code, place: Place($0.location)) }
        entries += p.escalationPolicies.map { .init(kind: "escalation_policy", name: $0.id, place: Place($0.location)) }
        entries += p.autoEscalationTriggers.map { .init(kind: "auto_escalation_trigger", name: $0.name, place: Place($0.location)) }
        entries += p.blastRadiusLevels.map { .init(kind: "blast_radius", name: $0.level.rawValue, place: Place($0.location)) }
        entries += p.containmentStrategies.map { .init(kind: "containment_strategy", name: $0.name, place: Place($0.location)) }
        entries += p.rollbackStrategies.map { .init(kind: "rollback_strategy", name: $0.name, place: Place($0.location)) }
        entries += p.verificationStates.map { .init(kind: "verification_state", name: $0.state.rawValue, place: Place($0.location)) }
        entries += p.knowledgeBase.map { .init(kind: "knowledge_base_file", name: $0.name, place: Place($0.location)) }
        entries += p.rateLimits.map { .init(kind: "rate_limit", name: $0.name, place: Place($0.location)) }
        entries += p.maintenanceWindows.map { .init(kind: "maintenance_window", name: $0.name, place: Place($0.location)) }
        if let selection = p.playbookSelection {
            entries.append(.init(kind: "playbook_selection", name: "playbook_selection", place: selection.location.map(Place.init)))
        }
        if let retention = p.retention {
            entries.append(.init(kind: "retention", name: "retention", place: retention.location.map(Place.init),
                                 summary: retentionSummary(retention)))
        }
        return entries
    }

    var text: String {
        var out = "Playbooks under \(root) (\(playbooks.count)):\n"
        out += Self.table(playbooks.map { p in
            var what = p.trigger.map { "trigger: \($0.condition)" + ($0.duration.map { " for \($0)" } ?? "") } ?? "no trigger"
            if !p.rules.isEmpty { what += "; rules: " + p.rules.joined(separator: ", ") }
            return [p.id, p.version, p.severity, p.category, "\(p.steps) step(s)", p.place.text, what]
        })
        out += "Actions (\(actions.count)):\n"
        out += Self.table(actions.map { [$0.name, $0.executor, "risk \($0.riskLevel)", $0.idempotent ? "idempotent" : "not idempotent", $0.place.text] })
        out += "Rules (\(rules.count)):\n"
        out += Self.table(rules.map { r in
            [r.name, r.detector, r.severity, r.duration.map { "for \($0)" } ?? "at once", r.place.text,
             r.metric + (r.playbooks.isEmpty ? ", no playbook" : " -> " + r.playbooks.joined(separator: ", "))]
        })
        out += "Policies (\(policies.count)):\n"
        out += Self.table(policies.map { [$0.kind, $0.name, $0.severity ?? "", $0.place?.text ?? "", $0.summary ?? ""] })
        return out
    }

    /// The retention policy in a line: how long runs, incident records and the archive are kept.
    static func retentionSummary(_ r: RetentionPolicy) -> String {
        let runs = "runs: finished more than \(r.runsMaxAge) ago go, the newest \(r.runsKeepAtLeast) stay"
            + (r.runsKeepAtMost.map { ", at most \($0) stay" } ?? "")
        let records = "incident records: " + (r.knowledgeMaxAge.map { "started more than \($0) ago go" } ?? "kept for ever")
        let archive = r.disposal == .delete ? "removed" : "archived, "
            + (r.archiveMaxAge.map { "the archive's files removed \($0) after their last write" } ?? "the archive kept for ever")
        return "\(runs); \(records); what goes is \(archive)"
    }

    /// Rows as aligned columns, two spaces in; "  (none)" for no rows.
    private static func table(_ rows: [[String]]) -> String {
        guard let width = rows.first?.count else { return "  (none)\n" }
        let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            "  " + row.enumerated().map { column, cell in
                column == row.count - 1 || widths[column] == 0 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.filter { !$0.isEmpty }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
