import ArgumentParser
import Foundation
import MedicServer

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage the bearer tokens of `medic serve`'s API.",
        subcommands: [TokenCreateCommand.self]
    )
}

struct TokenCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a token for NAME with its roles: printed once, only its SHA-256 kept.",
        discussion: """
            Generates a random token, prints it on standard output (the only time it is shown: \
            keep it), and appends NAME, the roles and the token's SHA-256 to the tokens file, \
            created readable by its owner only (0600). `medic serve --tokens FILE` (or the \
            configuration's `tokens: FILE`) then takes `Authorization: Bearer TOKEN` as NAME.

            Roles: viewer (read, and scrape /metrics), operator (kill switch, safe mode, breaker \
            resets, incidents), approver (approve and deny runs), sender (post alerts and immune \
            events: the token of an Alertmanager or an agent), admin (everything).

            Examples:
              medic token create alice --role approver --tokens /etc/medic/tokens.jsonl
              medic token create ci --role viewer --role operator
              medic token create alertmanager --role sender
            """
    )

    @Argument(help: "Who the token is (recorded as the approver, in the audit log): letters, digits, . - _ @.")
    var name: String

    @Option(name: .customLong("role"), help: ArgumentHelp("A role: viewer, operator, approver, sender or admin (repeatable).", valueName: "role"))
    var roles: [String] = []

    @Option(help: ArgumentHelp("The tokens file.", valueName: "file"))
    var tokens: String = "tokens.jsonl"

    func validate() throws {
        if let problem = AccessTokens.check(name: name) { throw ValidationError(problem) }
        guard !roles.isEmpty else { throw ValidationError("give at least one --role (viewer, operator, approver, sender, admin)") }
        for role in roles where AccessRole(rawValue: role) == nil {
            throw ValidationError("--role '\(role)' is not a role: viewer, operator, approver, sender or admin")
        }
    }

    mutating func run() async throws {
        let token = AccessTokens.generate()
        let roles = roles.compactMap(AccessRole.init(rawValue:)).reduce(into: [AccessRole]()) { if !$0.contains($1) { $0.append($1) } }
        do {
            try AccessTokens.append(AccessTokens.Entry(name: name, roles: roles, sha256: AccessTokens.hash(token)), to: tokens)
        } catch {
            throw CommandFailure("error: \(error)", "no token was made")
        }
        printLine(token)
        MedicLog.log.notice("medic: token for '\(name)' (\(roles.map(\.rawValue).joined(separator: ", "))) added to \(tokens); it is shown only now")
    }
}
