import Foundation
import MedicModel

/// Reads a health checks file (YAML or JSON): reference §2's `shallow_checks`, `deep_checks` and
/// `comprehensive_checks` as the reference writes them, plus what Medic needs to run them (a
/// `base_url` for paths, `services` and `connections` by name, components) and `degradation`.
/// A check whose shape Medic does not run (a redis check, a workflow of named steps) loads as
/// `notRun` with the reason, rather than as an error: the file stays the team's one list.
public enum HealthChecksLoader {
    /// Never throws: every fault is a located diagnostic, and the file is nil when there is any error.
    public static func load(path: String, limits: InputLimits = .default) -> (HealthChecksFile?, [Diagnostic]) {
        let yaml = !path.lowercased().hasSuffix(".json")
        return StandaloneFile.load(path: path, limits: limits, prepare: { yaml ? BoundShorthand.quoted($0) : $0 }) { root, context in
            HealthChecksDecoder(context: context).decode(root)
        }
    }
}

/// The reference writes bounds such as `memory_available: >100MB` unquoted. That is not YAML:
/// `>` there starts a folded block scalar, whose header may hold only one digit and a `+` or
/// `-`. A health checks file reads such a value, which no YAML reader accepts, as the bound it
/// spells: it is put in double quotes before parsing, at the same column; so is `>4`, a valid
/// header of a block that would hold nothing (no line below is indented further). Other valid
/// block headers (`>`, `>-`, `>2` with its lines), lines inside block scalars and values holding
/// a quote or a backslash are left as written.
enum BoundShorthand {
    static func quoted(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: ">")), let text = String(validating: bytes, as: UTF8.self) else { return bytes }
        var lines = text.components(separatedBy: "\n")
        var blockIndent: Int?
        var changed = false
        for index in lines.indices {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            if let block = blockIndent {
                if line.trimmingCharacters(in: .whitespaces).isEmpty || indent > block { continue }
                blockIndent = nil
            }
            guard let colon = line.range(of: ": "), !line[..<colon.lowerBound].contains("#") else { continue }
            let afterColon = line[colon.upperBound...]
            let value = afterColon.drop { $0 == " " || $0 == "\t" }
            let comment = value.range(of: " #")
            let body = String(value[..<(comment?.lowerBound ?? value.endIndex)]).trimmingCharacters(in: .whitespaces)
            guard let first = body.first, first == ">" || first == "|" else { continue }
            let header = body.dropFirst()
            // `>4` is a valid header, but of a block with nothing in it when no line below is
            // indented further: the bound `>4` is what was meant.
            let nextIndent = lines[(index + 1)...].first { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.prefix { $0 == " " }.count
            let emptyBlock = header.contains(where: \.isNumber) && (nextIndent ?? 0) <= indent
            if isBlockHeader(header) && !emptyBlock {
                blockIndent = indent
                continue
            }
            guard first == ">", !header.contains("\""), !header.contains("\\") else { continue }
            let start = line.distance(from: line.startIndex, to: value.startIndex)
            let rest = comment.map { String(value[$0.lowerBound...]) } ?? ""
            lines[index] = String(line.prefix(start)) + "\"" + body + "\"" + rest
            changed = true
        }
        return changed ? Array(lines.joined(separator: "\n").utf8) : bytes
    }

    /// `1`-`9` and `+`/`-`, each at most once, in either order.
    static func isBlockHeader(_ header: Substring) -> Bool {
        let characters = Array(header)
        guard characters.count <= 2 else { return false }
        let digits = characters.filter { ("1"..."9").contains($0) }.count
        let chomps = characters.filter { $0 == "+" || $0 == "-" }.count
        return digits <= 1 && chomps <= 1 && digits + chomps == characters.count
    }
}

struct HealthChecksDecoder {
    let context: DecodeContext

    static let topKeys = ["$schema", "shallow_checks", "deep_checks", "comprehensive_checks", "component", "base_url", "services",
                          "connections", "degradation"]
    static let methods = ["GET", "HEAD", "POST", "OPTIONS"]
    static let commonKeys = ["type", "component", "description", "interval", "timeout", "retry", "on_failure"]
    static let keysOfKind: [String: [String]] = [
        "http": ["method", "url", "path", "endpoint", "service", "expected_status", "expected_body", "max_latency"],
        "tcp": ["host", "port"],
        "process": ["process_name", "check_method", "pid_file"],
        "command": ["command"],
        "postgres": ["action", "url", "connection_pool"],
        "metrics": [],
    ]
    /// Keys of the reference's checks that Medic does not run, and what they are.
    static let notRunShapes: [(keys: [String], what: String)] = [
        (["steps"], "a workflow of named steps"),
        (["check_type", "validation", "sample_size"], "a cross-service data validation"),
        (["verify_latest_backup", "test_restore", "validate_checksum"], "a backup verification"),
        (["check_certificates", "check_secrets_rotation", "check_vulnerability_scan"], "a security posture review"),
        (["concurrent_requests", "expected_p95_latency", "expected_error_rate"], "a load benchmark"),
        (["write_test_file", "read_test_file", "expected_iops"], "a filesystem I/O test"),
    ]
    /// The reference's `disk_space` is the built-in `disk_free_bytes` of `/`.
    static let metricAliases: [String: (String, [String: String])] = ["disk_space": ("disk_free_bytes", ["path": "/"])]

    struct Shared {
        var component = "default"
        var baseURL: String?
        var services: [String: String] = [:]
        var connections: [String: String] = [:]
    }

    func decode(_ root: SourceNode) -> HealthChecksFile? {
        guard let f = context.fields(root, "the health checks file", known: Self.topKeys) else { return nil }
        var shared = Shared()
        if let component = f.string("component"), let node = f["component"], context.checkID(component, node, "component") {
            shared.component = component
        }
        if let node = f["base_url"] { shared.baseURL = url(node, "'base_url'") }
        if let node = f["services"] { shared.services = urlMap(node, "'services'", postgres: false) }
        if let node = f["connections"] { shared.connections = urlMap(node, "'connections'", postgres: true) }
        guard HealthTier.allCases.contains(where: { f[$0.fileKey] != nil }) else {
            context.report(.missingKey, "the health checks file lists no checks", at: root.location,
                           hint: "add shallow_checks:, deep_checks: or comprehensive_checks: (reference §2)")
            return nil
        }
        var checks: [HealthCheckDefinition] = []
        var seen: [String: SourceLocation] = [:]
        for tier in HealthTier.allCases {
            guard let node = f[tier.fileKey] else { continue }
            guard let pairs = node.mapping else {
                context.report(.wrongType, "'\(tier.fileKey)' must be a mapping of check names to checks, found \(node.kindDescription)",
                               at: node.location)
                continue
            }
            for pair in pairs {
                guard context.checkID(pair.key, pair.keyNode, "health check name") else { continue }
                if let earlier = seen[pair.key] {
                    context.report(.duplicateName, "health check '\(pair.key)' is already defined at \(earlier.description)",
                                   at: pair.keyNode.location, hint: "give each check a unique name")
                    continue
                }
                seen[pair.key] = pair.keyNode.location
                if let check = check(pair.key, tier: tier, pair.value, shared: shared, at: pair.keyNode.location) { checks.append(check) }
            }
        }
        let degradation = f["degradation"].map(degradationSettings) ?? DegradationSettings()
        return HealthChecksFile(checks: checks, degradation: degradation)
    }

    private func check(_ name: String, tier: HealthTier, _ node: SourceNode, shared: Shared,
                       at location: SourceLocation) -> HealthCheckDefinition? {
        guard let pairs = node.mapping else {
            context.report(.wrongType, "health check '\(name)' must be a mapping, found \(node.kindDescription)", at: node.location)
            return nil
        }
        let keys = pairs.map(\.key)
        let f = Fields(node: node, pairs: pairs, what: "health check '\(name)'", context: context)
        let type = f.string("type")
        let kind: String
        if let type {
            kind = type
        } else if let shape = Self.notRunShapes.first(where: { $0.keys.contains(where: keys.contains) }) {
            return definition(name, tier, f, shared, .notRun("\(shape.what) is not something Medic runs; write it as a command check"),
                              location)
        } else if keys.contains(where: ["url", "path", "endpoint"].contains) {
            kind = "http"
        } else if keys.contains("port") {
            kind = "tcp"
        } else if keys.contains("process_name") {
            kind = "process"
        } else if keys.contains("command") {
            kind = "command"
        } else {
            kind = "metrics"
        }
        guard let own = Self.keysOfKind[kind] else {
            let known = Self.keysOfKind.keys.sorted().joined(separator: ", ")
            return definition(name, tier, f, shared, .notRun("type '\(kind)' is not a kind Medic runs (\(known))"), location)
        }
        if kind != "metrics" {
            for pair in pairs where !Self.commonKeys.contains(pair.key) && !own.contains(pair.key) {
                context.reportUnknownKey(pair, in: "a \(kind) health check", known: Self.commonKeys + own)
            }
        }
        let probe: HealthCheckDefinition.Probe?
        switch kind {
        case "http": probe = http(f, shared)
        case "tcp":
            let port = f.required("port").flatMap { context.integer($0, "'port'", min: 1, max: 65_535) }
            probe = port.map { .tcp(host: f.string("host") ?? "localhost", port: $0) }
        case "process":
            let processName = f.string("process_name", required: true)
            let method = f["check_method"].flatMap { context.word($0, "'check_method'", ["pid_file", "name"]) { ["pid_file", "name"].contains($0) ? $0 : nil } }
            let pidFile = f.string("pid_file")
            let usesPidFile = method == "pid_file" || (method == nil && pidFile != nil)
            probe = processName.map { .process(name: $0, pidFile: usesPidFile ? pidFile ?? "/run/\($0).pid" : nil) }
        case "command":
            probe = f.required("command").flatMap { nonEmpty($0, "'command'") }.map { .command($0) }
        case "postgres":
            let statement = f.string("action") ?? "SELECT 1"
            if let address = f["url"].flatMap({ url($0, "'url'", postgres: true) }) {
                probe = .postgres(url: address, statement: statement)
            } else if f["url"] != nil {
                probe = nil
            } else if let pool = f.string("connection_pool"), let address = shared.connections[pool] {
                probe = .postgres(url: address, statement: statement)
            } else {
                let pool = f.string("connection_pool").map { "connection '\($0)' is not in the file's connections:" } ?? "no url:"
                probe = .notRun("no PostgreSQL address: \(pool); add connections: {NAME: postgres://USER@HOST/DB}")
            }
        default:
            probe = metrics(pairs)
        }
        guard let probe else { return nil }
        return definition(name, tier, f, shared, probe, location)
    }

    /// The check with the keys every check takes (also one Medic does not run, whose other keys
    /// are the reference's and are not read).
    private func definition(_ name: String, _ tier: HealthTier, _ f: Fields, _ shared: Shared, _ probe: HealthCheckDefinition.Probe,
                            _ location: SourceLocation) -> HealthCheckDefinition? {
        var component = shared.component
        if let node = f["component"], let text = context.string(node, "'component'") {
            guard context.checkID(text, node, "component") else { return nil }
            component = text
        }
        let interval = positive(f, "interval")
        let timeout = positive(f, "timeout")
        let retries = f.integer("retry", min: 0, max: 10)
        let action = f.enumValue("on_failure", HealthFailureAction.self)
        return HealthCheckDefinition(name: name, tier: tier, component: component, probe: probe, interval: interval, timeout: timeout,
                                     retries: retries, failureAction: action, description: f.text("description"), location: location)
    }

    private func positive(_ f: Fields, _ key: String) -> Double? {
        guard let node = f[key], let interval = context.duration(node, "'\(key)'") else { return nil }
        guard interval.seconds > 0 else {
            context.report(.outOfRange, "'\(key)' must be longer than 0s", at: node.location, hint: "for example \(key): 5s")
            return nil
        }
        return interval.seconds
    }

    private func http(_ f: Fields, _ shared: Shared) -> HealthCheckDefinition.Probe? {
        let method = f["method"].flatMap { context.word($0, "'method'", Self.methods) { Self.methods.contains($0) ? $0 : nil } } ?? "GET"
        var statuses = [200]
        if let node = f["expected_status"] {
            let items = node.sequence ?? [node]
            let read = items.compactMap { context.integer($0, "'expected_status'", min: 100, max: 599) }
            guard read.count == items.count, !read.isEmpty else { return nil }
            statuses = read
        }
        let maxLatency = positive(f, "max_latency")
        let body = f.string("expected_body")
        let address: String?
        if let node = f["url"] {
            guard let full = url(node, "'url'") else { return nil }
            address = full
        } else {
            guard let pathNode = f["path"] ?? f["endpoint"], let path = context.string(pathNode, "the path") else { return nil }
            guard path.hasPrefix("/") else {
                context.report(.invalidValue, "the path '\(path)' does not start with /", at: pathNode.location, hint: "for example path: /health")
                return nil
            }
            var base = shared.baseURL
            if let service = f.string("service") {
                base = shared.services[service]
                if base == nil {
                    return .notRun("service '\(service)' has no address: add services: {\(service): http://HOST:PORT} to the file")
                }
            }
            guard let base else { return .notRun("no address for \(path): give the check a url:, or the file a base_url:") }
            address = (base.hasSuffix("/") ? String(base.dropLast()) : base) + path
        }
        return address.map { .http(url: $0, method: method, statuses: statuses, bodyContains: body, maxLatency: maxLatency) }
    }

    /// Every key is a metric and its value a bound (`cpu_usage: <90%`).
    private func metrics(_ pairs: [SourceNode.Pair]) -> HealthCheckDefinition.Probe? {
        var bounds: [HealthCheckDefinition.MetricBound] = []
        var valid = true
        for pair in pairs where !Self.commonKeys.contains(pair.key) {
            guard let bound = context.bound(pair.value, "metric '\(pair.key)'") else {
                valid = false
                continue
            }
            let (metric, labels) = Self.metricAliases[pair.key] ?? (pair.key, [:])
            bounds.append(.init(key: pair.key, metric: metric, labels: labels, bound: bound))
        }
        guard valid else { return nil }
        guard !bounds.isEmpty else { return .notRun("no probe: neither a url, a port, a process, a command nor a metric bound") }
        return .metrics(bounds)
    }

    private func degradationSettings(_ node: SourceNode) -> DegradationSettings {
        var settings = DegradationSettings()
        guard let f = context.fields(node, "'degradation'", known: ["recover_after", "features"]) else { return settings }
        if let seconds = f["recover_after"].flatMap({ context.duration($0, "'recover_after'") }) { settings.recoverAfter = seconds.seconds }
        guard let featuresNode = f["features"], let pairs = featuresNode.mapping else {
            if let featuresNode = f["features"] { context.report(.wrongType, "'features' must be a mapping", at: featuresNode.location) }
            return settings
        }
        var own: [DegradationFeature] = []
        for pair in pairs {
            guard context.checkID(pair.key, pair.keyNode, "feature name") else { continue }
            if settings.features.contains(where: { $0.name == pair.key }) || own.contains(where: { $0.name == pair.key }) {
                context.report(.duplicateName, "feature '\(pair.key)' is already defined (built in: "
                               + DegradationFeature.builtIn.map(\.name).joined(separator: ", ") + ")",
                               at: pair.keyNode.location, hint: "give the feature another name")
                continue
            }
            guard let g = context.fields(pair.value, "feature '\(pair.key)'", known: ["off_from", "depends_on", "playbooks"]),
                  let offFrom = g.enumValue("off_from", DegradationLevel.self, required: true) else { continue }
            own.append(DegradationFeature(name: pair.key, offFrom: offFrom, dependsOn: g.strings("depends_on") ?? [],
                                          playbooks: g.strings("playbooks") ?? []))
        }
        let names = Set((settings.features + own).map(\.name))
        for feature in own {
            for dependency in feature.dependsOn where !names.contains(dependency) {
                context.report(.unresolvedReference, "feature '\(feature.name)' depends on '\(dependency)', which is not a feature",
                               at: featuresNode.location, hint: "features: " + names.sorted().joined(separator: ", "))
            }
        }
        settings.features += own
        return settings
    }

    private func nonEmpty(_ node: SourceNode, _ what: String) -> String? {
        guard let text = context.string(node, what) else { return nil }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            context.report(.invalidValue, "\(what) is empty", at: node.location)
            return nil
        }
        return text
    }

    private func urlMap(_ node: SourceNode, _ what: String, postgres: Bool) -> [String: String] {
        guard let pairs = node.mapping else {
            context.report(.wrongType, "\(what) must be a mapping of names to addresses, found \(node.kindDescription)", at: node.location)
            return [:]
        }
        var result: [String: String] = [:]
        for pair in pairs { if let address = url(pair.value, "'\(pair.key)' in \(what)", postgres: postgres) { result[pair.key] = address } }
        return result
    }

    /// An http(s) URL with a host, or with `postgres` a postgres:// one.
    private func url(_ node: SourceNode, _ what: String, postgres: Bool = false) -> String? {
        guard let text = nonEmpty(node, what) else { return nil }
        let schemes = postgres ? ["postgres", "postgresql"] : ["http", "https"]
        let example = postgres ? "postgres://medic@127.0.0.1:5432/medic" : "http://127.0.0.1:8080"
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
              let host = url.host, !host.isEmpty else {
            context.report(.invalidValue, "\(what) '\(text)' is not a \(schemes[0]) URL with a host", at: node.location,
                           hint: "for example \(example)")
            return nil
        }
        return text
    }
}
