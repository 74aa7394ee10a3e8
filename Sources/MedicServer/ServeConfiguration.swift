import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// `medic serve --config medic.yaml`: what the server does besides the defaults. So far only
/// the alert routes (docs/serving.md, "Configuration").
///
/// ```yaml
/// routes:
///   - match: {alertname: ServiceDown, team: web}   # every label given must be equal
///     playbook: restart-service-001
///     parameters_from_labels: {service: job}       # parameter: label
///     target_label: instance                       # the label naming the target
///   - match: {alertname: DiskFull}
///     playbooks: [clean-logs-001, grow-volume-001] # candidates, ranked when an incident opens
/// ```
public struct ServeConfiguration: Sendable, Equatable {
    public struct Route: Sendable, Equatable {
        public var match: [String: String]
        /// The playbook (with `candidates`, the first of them).
        public var playbook: String
        /// `playbooks: [a, b, ...]`: the candidates, ranked by the engine's playbook selection
        /// when an incident opens (empty when the route names one `playbook`).
        public var candidates: [String]
        public var parametersFromLabels: [String: String]
        public var targetLabel: String?
        public var location: SourceLocation

        public init(match: [String: String], playbook: String, candidates: [String] = [], parametersFromLabels: [String: String] = [:],
                    targetLabel: String? = nil, location: SourceLocation = SourceLocation(file: "")) {
            self.match = match
            self.playbook = playbook
            self.candidates = candidates
            self.parametersFromLabels = parametersFromLabels
            self.targetLabel = targetLabel
            self.location = location
        }

        /// Whether every label of `match` has its value in `labels`.
        public func matches(_ labels: [String: String]) -> Bool {
            match.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    public var routes: [Route] = []
    /// The bearer tokens file (`tokens:`), relative paths read from the configuration's folder.
    public var tokensFile: String?
    /// `escalation` and `channels` (EscalationConfiguration.swift).
    public var escalation = EscalationSettings()
    /// `resilience`: the guards' limits (ResilienceConfiguration.swift).
    public var resilience = ResilienceSettings()

    public init(routes: [Route] = [], tokensFile: String? = nil) {
        self.routes = routes
        self.tokensFile = tokensFile
    }

    /// The configuration of `path`, checked against `catalog` (every route's playbook exists);
    /// nil with the errors when there is any (a half-read configuration is never used).
    public static func load(path: String, catalog: Catalog) -> (ServeConfiguration?, [Diagnostic]) {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            return (nil, [Diagnostic(.fileUnreadable, "cannot read the configuration file", at: start, hint: "check the path given to --config")])
        }
        let (root, read) = DocumentReader().read(bytes: Array(data), path: path)
        guard let root, !read.hasErrors else { return (nil, read) }
        var decoder = Decoder(catalog: catalog)
        var configuration = decoder.configuration(root)
        if let tokens = configuration.tokensFile, !tokens.hasPrefix("/") {
            configuration.tokensFile = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(tokens).path
        }
        return (decoder.diagnostics.hasErrors ? nil : configuration, read + decoder.diagnostics)
    }

    /// The file names `medic validate` reads as a serve configuration, not as a library file.
    public static let fileNames: Set<String> = ["medic.yaml", "medic.yml", "medic.json"]

    public static func isConfigurationFile(_ path: String) -> Bool {
        fileNames.contains(URL(fileURLWithPath: path).lastPathComponent)
    }

    /// Every problem of the configuration files at `paths`, each checked against `catalog`.
    public static func check(paths: [String], catalog: Catalog) -> [Diagnostic] {
        paths.flatMap { load(path: $0, catalog: catalog).1.sortedForReport() }
    }

    private struct Decoder {
        let catalog: Catalog
        var diagnostics: [Diagnostic] = []

        init(catalog: Catalog) { self.catalog = catalog }

        mutating func configuration(_ root: SourceNode) -> ServeConfiguration {
            var configuration = ServeConfiguration()
            guard let pairs = mapping(root, "the configuration", known: Set(["$schema", "routes", "tokens", ResilienceConfiguration.key]).union(EscalationSettings.keys)) else {
                return configuration
            }
            if let tokens = pairs.first(where: { $0.key == "tokens" })?.value { configuration.tokensFile = string(tokens, "'tokens'") }
            let (escalation, problems) = EscalationSettings.decode(pairs, catalog: catalog)
            (configuration.escalation, diagnostics) = (escalation, diagnostics + problems)
            let (resilience, limits) = ResilienceConfiguration.decode(pairs)
            (configuration.resilience, diagnostics) = (resilience, diagnostics + limits)
            guard let routes = pairs.first(where: { $0.key == "routes" })?.value else { return configuration }
            guard let items = routes.sequence else {
                report(.wrongType, "'routes' must be a list of routes, found \(routes.kindDescription)", routes,
                       hint: "write each route as an item: '- match: {alertname: NAME}' then 'playbook: ID'")
                return configuration
            }
            for item in items {
                if let route = route(item) { configuration.routes.append(route) }
            }
            return configuration
        }

        mutating func route(_ node: SourceNode) -> Route? {
            guard let pairs = mapping(node, "a route", known: ["match", "playbook", "playbooks", "parameters_from_labels", "target_label"]) else {
                return nil
            }
            let field = { (name: String) in pairs.first { $0.key == name }?.value }
            guard let matchNode = field("match") else {
                report(.missingKey, "a route needs 'match', the labels an alert must have", node, hint: "add 'match: {alertname: NAME}'")
                return nil
            }
            let playbookNode = field("playbook"), candidatesNode = field("playbooks")
            if playbookNode == nil, candidatesNode == nil {
                report(.missingKey, "a route needs 'playbook', the id of the playbook to run (or 'playbooks', its candidates)", node,
                       hint: "add 'playbook: ID' with the playbook_id of a playbook of the library, or 'playbooks: [ID, ID]' to rank candidates")
                return nil
            }
            if playbookNode != nil, let candidatesNode {
                report(.invalidValue, "a route takes 'playbook' (one playbook) or 'playbooks' (candidates ranked), not both", candidatesNode,
                       hint: "keep 'playbooks' and put the playbook of 'playbook' in its list, or remove 'playbooks'")
                return nil
            }
            guard let match = stringMap(matchNode, "'match'") else { return nil }
            var named: [(id: String, node: SourceNode)] = []
            if let playbookNode {
                guard let playbook = string(playbookNode, "'playbook'") else { return nil }
                named = [(playbook, playbookNode)]
            } else if let candidatesNode {
                guard let items = candidatesNode.sequence else {
                    report(.wrongType, "'playbooks' must be a list of playbook ids, found \(candidatesNode.kindDescription)", candidatesNode,
                           hint: "write the candidates as a list: 'playbooks: [clean-logs-001, grow-volume-001]'")
                    return nil
                }
                if items.isEmpty {
                    report(.invalidValue, "'playbooks' must name at least one playbook", candidatesNode,
                           hint: "list the candidates: 'playbooks: [clean-logs-001, grow-volume-001]'")
                    return nil
                }
                for item in items {
                    guard let id = string(item, "a playbook of 'playbooks'") else { return nil }
                    if named.contains(where: { $0.id == id }) {
                        report(.invalidValue, "'playbooks' names '\(id)' twice", item, hint: "name each candidate once")
                        return nil
                    }
                    named.append((id, item))
                }
            }
            if match.isEmpty {
                report(.invalidValue, "'match' must name at least one label", matchNode,
                       hint: "a route matching every alert is not allowed; name a label such as alertname")
            }
            for (playbook, playbookNode) in named where catalog.playbook(id: playbook) == nil {
                report(.unknownPlaybook, "route playbook '\(playbook)' is not a playbook of the library", playbookNode,
                       hint: Spelling.didYouMean(playbook, among: catalog.playbooks.map(\.id))
                           ?? "use the playbook_id of a playbook of the library (under --root; medic list shows them)")
            }
            let parameters = field("parameters_from_labels").map { stringMap($0, "'parameters_from_labels'") } ?? [:]
            let target = field("target_label").map { string($0, "'target_label'") } ?? nil
            if let targetNode = field("target_label"), target?.isEmpty == true {
                report(.invalidValue, "'target_label' must name a label, found an empty text", targetNode, hint: "write the label, such as instance")
            }
            guard let parameters else { return nil }
            return Route(match: match, playbook: named[0].id, candidates: candidatesNode == nil ? [] : named.map(\.id),
                         parametersFromLabels: parameters, targetLabel: target, location: node.location)
        }

        /// The pairs of a mapping; `known` (nil: any key) lists the keys it may have.
        mutating func mapping(_ node: SourceNode, _ what: String, known: Set<String>?) -> [SourceNode.Pair]? {
            guard let pairs = node.mapping else {
                report(.wrongType, "\(what) must be a mapping, found \(node.kindDescription)", node, hint: "write it as 'key: value' lines or {key: value}")
                return nil
            }
            var seen: Set<String> = []
            for pair in pairs {
                if let known, !known.contains(pair.key) {
                    let allowed = known.filter { $0 != "$schema" }.sorted()
                    report(.unknownKey, "unknown key '\(pair.key)' in \(what)", pair.keyNode,
                           hint: Spelling.didYouMean(pair.key, among: allowed) ?? "the keys allowed here are: \(allowed.joined(separator: ", "))")
                }
                if !seen.insert(pair.key).inserted {
                    report(.duplicateKey, "'\(pair.key)' is given twice in \(what)", pair.keyNode, hint: "keep one of them")
                }
            }
            return pairs
        }

        mutating func string(_ node: SourceNode, _ what: String) -> String? {
            guard let scalar = node.scalar, !node.isNull else {
                report(.wrongType, "\(what) must be text, found \(node.kindDescription)", node, hint: "write one text value")
                return nil
            }
            if scalar.style == .plain, let implicit = ImplicitType.of(scalar.text) {
                report(.implicitTyping, "\(what) must be text, but YAML reads '\(scalar.text)' as \(implicit)", node,
                       hint: "quote it: \"\(scalar.text)\"")
                return nil
            }
            return scalar.text
        }

        mutating func stringMap(_ node: SourceNode, _ what: String) -> [String: String]? {
            guard let pairs = mapping(node, what, known: nil) else { return nil }
            var result: [String: String] = [:]
            for pair in pairs {
                guard let value = string(pair.value, "'\(pair.key)' of \(what)") else { return nil }
                result[pair.key] = value
            }
            return result
        }

        mutating func report(_ code: DiagnosticCode, _ message: String, _ node: SourceNode, hint: String) {
            diagnostics.append(Diagnostic(code, message, at: node.location, hint: hint))
        }
    }
}
