import ArgumentParser
import MedicLoader

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (2020-12) of a file kind, for editors and other validators.",
        discussion: """
            KIND is one of: playbook, actions, rules, policies; metric-sources (the metric sources \
            file that run, resume and demo read with --metrics); inventory (the hosts, labels and \
            groups that plan and run read with --inventory); serve (the configuration that serve \
            reads with --config); or health-checks (the file of status --checks and serve --health-checks). The same schemas ship under schemas/.
            For YAML editors with the YAML language server, start a file with
              # yaml-language-server: $schema=../schemas/playbook.schema.json
            """
    )

    @Argument(help: "playbook, actions, rules, policies, metric-sources, inventory, serve or health-checks.")
    var kind: String

    func validate() throws {
        guard EmbeddedSchemas.byKind[kind] != nil else {
            throw ValidationError("unknown kind '\(kind)'; use one of: \(EmbeddedSchemas.byKind.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        printLine(EmbeddedSchemas.byKind[kind]!)
    }
}
