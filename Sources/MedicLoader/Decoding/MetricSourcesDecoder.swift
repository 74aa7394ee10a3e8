import Foundation
import MedicModel

/// Reads the metric sources file (YAML or JSON): which source serves which metric.
///
/// ```yaml
/// metric_sources:
///   - name: prom
///     type: prometheus
///     url: http://127.0.0.1:9090
///     metrics: [http_error_rate, "pg_*"]
///     scale: 100
/// ```
public enum MetricSourcesLoader {
    /// Loads and checks the file. Never throws: every fault is a located diagnostic, and the
    /// configuration is nil when there is any error (a half-read configuration is never used).
    public static func load(path: String, limits: InputLimits = .default) -> (MetricSourceConfig?, [Diagnostic]) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return StandaloneFile.load(path: path, limits: limits) { root, context in
            MetricSourcesDecoder(context: context, folder: folder).decode(root)
                .map { MetricSourceConfig(bindings: $0, location: root.location) }
        }
    }
}

/// Decodes the tree of a metric sources file into bindings.
struct MetricSourcesDecoder {
    let context: DecodeContext
    /// The metric sources file's folder: relative `path`s resolve against it, commands run in it.
    let folder: String

    static let keys = ["name", "type", "url", "command", "path", "metrics", "scale", "timeout"]
    /// Keys that only some kinds take.
    static let keysOfKind: [MetricSourceBinding.Kind: [String]] = [
        .prometheus: ["url", "timeout"], .command: ["command", "timeout"], .file: ["path"],
    ]

    func decode(_ root: SourceNode) -> [MetricSourceBinding]? {
        guard let f = context.fields(root, "the metric sources file", known: ["$schema", "metric_sources"]),
              let listNode = f.required("metric_sources"), let items = context.list(listNode, "'metric_sources'") else { return nil }
        var seen: [String: SourceLocation] = [:]
        var bindings: [MetricSourceBinding] = []
        for item in items {
            guard let binding = binding(item) else { continue }
            if let earlier = seen[binding.name] {
                context.report(.duplicateName, "metric source '\(binding.name)' is already defined at \(earlier.description)",
                               at: binding.location, hint: "give each metric source a unique name")
            } else {
                seen[binding.name] = binding.location
            }
            bindings.append(binding)
        }
        return bindings
    }

    private func binding(_ node: SourceNode) -> MetricSourceBinding? {
        guard let f = context.fields(node, "a metric source", known: Self.keys) else { return nil }
        let nameNode = f.required("name")
        let name = nameNode.flatMap { context.string($0, "'name'") }
        if let name, let nameNode, !context.checkID(name, nameNode, "metric source name") { return nil }
        let kind = f.enumValue("type", MetricSourceBinding.Kind.self, required: true)
        if let kind {
            let own = Self.keysOfKind[kind] ?? []
            for pair in f.pairs where !own.contains(pair.key) {
                guard let owner = Self.keysOfKind.first(where: { $0.value.contains(pair.key) })?.key else { continue }
                context.report(.unknownKey, "'\(pair.key)' does not apply to a \(kind.rawValue) source", at: pair.keyNode.location,
                               hint: "'\(pair.key)' belongs to type \(owner.rawValue); a \(kind.rawValue) source takes \(own.joined(separator: ", "))")
            }
        }
        var binding = MetricSourceBinding(name: name ?? "", kind: kind ?? .file, location: nameNode?.location ?? node.location)
        var complete = name != nil && kind != nil
        switch kind {
        case .prometheus:
            binding.url = f.required("url").flatMap(url)
            complete = complete && binding.url != nil
        case .command:
            binding.command = f.required("command").flatMap { nonEmpty($0, "'command'") }
            binding.workingDirectory = folder
            complete = complete && binding.command != nil
        case .file:
            binding.path = f.required("path").flatMap { nonEmpty($0, "'path'") }.map(resolved)
            complete = complete && binding.path != nil
        case nil:
            break
        }
        if let metricsNode = f["metrics"] {
            let patterns = metricPatterns(metricsNode)
            binding.metrics = patterns ?? []
            complete = complete && patterns != nil
        }
        if let scaleNode = f["scale"], let scale = context.number(scaleNode, "'scale'") {
            if scale == 0 {
                context.report(.outOfRange, "'scale' must not be 0 (every value would read as 0)", at: scaleNode.location,
                               hint: "leave 'scale' out to keep values as the source gives them")
                complete = false
            }
            binding.scale = scale
        }
        if let timeoutNode = f["timeout"], let timeout = context.duration(timeoutNode, "'timeout'") {
            if timeout.seconds <= 0 {
                context.report(.outOfRange, "'timeout' must be longer than 0s", at: timeoutNode.location, hint: "for example timeout: 5s")
                complete = false
            }
            binding.timeout = timeout
        }
        return complete ? binding : nil
    }

    private func nonEmpty(_ node: SourceNode, _ what: String) -> String? {
        guard let text = context.string(node, what) else { return nil }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            context.report(.invalidValue, "\(what) is empty", at: node.location)
            return nil
        }
        return text
    }

    /// An http or https URL with a host and nothing after the path (the query path is appended).
    private func url(_ node: SourceNode) -> String? {
        guard let text = nonEmpty(node, "'url'") else { return nil }
        let hint = "write the server's base URL, such as http://127.0.0.1:9090"
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            context.report(.invalidValue, "'url' '\(text)' is not a URL", at: node.location, hint: hint)
            return nil
        }
        guard scheme == "http" || scheme == "https" else {
            context.report(.invalidValue, "'url' scheme '\(scheme)' is not http or https", at: node.location, hint: hint)
            return nil
        }
        guard let host = url.host, !host.isEmpty else {
            context.report(.invalidValue, "'url' '\(text)' has no host", at: node.location, hint: hint)
            return nil
        }
        if url.query != nil || url.fragment != nil {
            context.report(.invalidValue, "'url' '\(text)' has a query or fragment", at: node.location,
                           hint: "Medic appends /api/v1/query?query=... itself; \(hint)")
            return nil
        }
        return text
    }

    /// Names or globs: letters, digits, `_`, `:`, `.` and `*`.
    private func metricPatterns(_ node: SourceNode) -> [String]? {
        guard let items = context.list(node, "'metrics'") else { return nil }
        if items.isEmpty {
            context.report(.invalidValue, "'metrics' is empty, so the source would serve nothing", at: node.location,
                           hint: "leave 'metrics' out to serve every metric, or name some")
            return nil
        }
        var patterns: [String] = []
        var valid = true
        for item in items {
            guard let pattern = context.string(item, "an item of 'metrics'") else {
                valid = false
                continue
            }
            let allowed = !pattern.isEmpty && pattern.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "_:.*".unicodeScalars.contains($0)
            }
            if !allowed {
                context.report(.invalidValue, "metric pattern '\(pattern)' must be letters, digits, '_', ':', '.' and '*'",
                               at: item.location, hint: "a name such as http_error_rate, or a glob such as \"pg_*\"")
                valid = false
            }
            patterns.append(pattern)
        }
        return valid ? patterns : nil
    }

    private func resolved(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).path
    }
}
