import Foundation
import MedicLoader
import MedicModel

/// Chaos Toolkit's experiment format (https://chaostoolkit.org/reference/api/experiment/): the
/// `steady-state-hypothesis` (probes with tolerances), the `method` (the fault), the `rollbacks`
/// (the revert, always run here), `configuration` and `secrets` (values or `{type: env, key}`),
/// with `process` and `http` providers. What Medic cannot run (python providers, controls, a
/// tolerance of another type) is listed in `unsupported` and left out. Medic's own settings (the
/// targets, the rule, the playbook, the time limits) come from an extension named `medic`.
struct ChaosToolkitDecoder {
    let file: String
    let environment: [String: String]

    func decode(_ root: SourceNode) throws -> ChaosExperiment {
        let reader = ChaosNodeReader(file: file)
        let keys = reader.mapping(root, "an experiment")
        let title = reader.text(keys["title"], "title", in: root, required: true) ?? ""
        var values: [String: String] = [:]
        var unsupported: [String] = []
        let configuration: [String: SourceNode] = keys["configuration"].map { reader.mapping($0, "configuration") } ?? [:]
        for (name, node) in configuration {
            if let value = self.value(node, name, reader) { values[name] = value }
        }
        if let secrets = keys["secrets"] {
            for (scope, node) in reader.mapping(secrets, "secrets") {
                for (name, secret) in reader.mapping(node, "secrets.\(scope)") {
                    if let value = self.value(secret, "\(scope).\(name)", reader) { values[name] = value }
                }
            }
        }
        let medic = keys["extensions"].map { reader.list($0, "extensions") }?
            .first { $0.mapping?.first { $0.key == "name" }?.value.scalar?.text == "medic" }
        let ext = medic.map { reader.mapping($0, "the medic extension",
                                             known: ["name", "id", "fault_type", "pattern", "targets", "rule", "playbook",
                                                     "detect_within", "recover_within", "max_incidents"]) } ?? [:]
        let id = reader.text(ext["id"], "id", in: root) ?? Self.slug(title)
        let faultType = reader.text(ext["fault_type"], "fault_type", in: root) ?? id
        var experiment = ChaosExperiment(id: id, title: title, format: .chaosToolkit, file: file, faultType: faultType,
                                         pattern: reader.text(ext["pattern"], "pattern", in: root) ?? faultType,
                                         targets: reader.targets(ext["targets"]))
        if let rule = ext["rule"] {
            experiment.detectionRules = rule.sequence.map { $0.compactMap { reader.text($0, "rule", in: rule) } }
                ?? [reader.text(rule, "rule", in: root)].compactMap { $0 }
        }
        experiment.playbook = reader.text(ext["playbook"], "playbook", in: root)
        experiment.detectWithin = reader.seconds(ext["detect_within"], "detect_within", default: 60)
        experiment.recoverWithin = reader.seconds(ext["recover_within"], "recover_within", default: 120)
        experiment.maxIncidents = reader.integer(ext["max_incidents"], "max_incidents", default: 1)
        if keys["controls"] != nil { unsupported.append("controls: Medic does not load Chaos Toolkit controls (python); they are not run") }
        if let hypothesis = keys["steady-state-hypothesis"] {
            let parts = reader.mapping(hypothesis, "steady-state-hypothesis")
            experiment.steadyState = reader.list(parts["probes"], "probes").compactMap {
                activity($0, values, reader, &unsupported, place: "steady-state-hypothesis", probe: true)
            }
        }
        var named: [String: ChaosActivity] = [:]
        experiment.inject = reader.list(keys["method"], "method").compactMap {
            // Chaos Toolkit goes on with the method after an activity fails.
            var made = activity($0, values, reader, &unsupported, place: "method", probe: false, named: named)
            made?.mayFail = true
            if let made { named[made.name] = made }
            return made
        }
        experiment.revert = reader.list(keys["rollbacks"], "rollbacks").compactMap {
            activity($0, values, reader, &unsupported, place: "rollbacks", probe: false, named: named)
        }
        if experiment.inject.isEmpty { reader.fail(keys["method"] ?? root, "the method holds no activity Medic can run") }
        experiment.unsupported = unsupported
        guard reader.problems.isEmpty else { throw ChaosExperimentError(reader.problems) }
        return experiment
    }

    /// A configuration or secret value: a scalar, or `{type: env, key: NAME[, default: V]}`.
    private func value(_ node: SourceNode, _ name: String, _ reader: ChaosNodeReader) -> String? {
        if let scalar = node.scalar { return scalar.text }
        let parts = reader.mapping(node, "'\(name)'")
        guard parts["type"]?.scalar?.text == "env", let key = parts["key"]?.scalar?.text else {
            reader.fail(node, "'\(name)' must be a value or {type: env, key: NAME}")
            return nil
        }
        if let value = environment[key] { return value }
        if let fallback = parts["default"]?.scalar?.text { return fallback }
        reader.fail(node, "'\(name)' comes from the environment variable \(key), which is not set (and no default is given)")
        return nil
    }

    private func activity(_ node: SourceNode, _ values: [String: String], _ reader: ChaosNodeReader, _ unsupported: inout [String],
                          place: String, probe: Bool, named: [String: ChaosActivity] = [:]) -> ChaosActivity? {
        let keys = reader.mapping(node, "an activity of \(place)")
        if let reference = keys["ref"]?.scalar?.text {
            guard let earlier = named[reference] else {
                reader.fail(node, "'ref: \(reference)' names no earlier activity of the method")
                return nil
            }
            return earlier
        }
        let name = reader.text(keys["name"], "name", in: node, required: true) ?? place
        guard let providerNode = keys["provider"] else {
            reader.fail(node, "activity '\(name)' has no provider")
            return nil
        }
        let provider = reader.mapping(providerNode, "the provider of '\(name)'")
        let type = provider["type"]?.scalar?.text ?? ""
        var timeout = 30.0
        if let node = provider["timeout"] {
            // A number, or [connect, read] for http: the whole request may take their sum.
            let numbers = (node.sequence ?? [node]).compactMap { $0.scalar.flatMap { Double($0.text) } }
            if numbers.isEmpty { reader.fail(node, "'timeout' must be a number of seconds") } else { timeout = numbers.reduce(0, +) }
        }
        let kind: ChaosActivity.Kind
        switch type {
        case "process":
            guard let path = reader.text(provider["path"], "path", in: providerNode, required: true) else { return nil }
            let arguments = provider["arguments"]
            if let line = arguments?.scalar?.text {
                kind = .process(path: substitute(path, values), arguments: [], argumentLine: substitute(line, values))
            } else {
                let list = reader.list(arguments, "arguments").compactMap { reader.text($0, "arguments", in: $0) }
                kind = .process(path: substitute(path, values), arguments: list.map { substitute($0, values) }, argumentLine: nil)
            }
        case "http":
            guard let url = reader.text(provider["url"], "url", in: providerNode, required: true) else { return nil }
            var body: String?
            if let arguments = provider["arguments"], !arguments.isNull {
                body = arguments.scalar.map { substitute($0.text, values) } ?? json(arguments).map { substitute($0, values) }
            }
            kind = .http(ChaosHTTPCall(url: substitute(url, values), method: provider["method"]?.scalar?.text.uppercased() ?? "GET",
                                       headers: reader.labels(provider["headers"], "headers").mapValues { substitute($0, values) }, body: body))
        default:
            unsupported.append("\(place): '\(name)' uses a \(type.isEmpty ? "provider without type" : "\(type) provider"); Medic runs process and http providers only, so it is left out")
            return nil
        }
        var activity = ChaosActivity(name: name, kind: kind, timeout: timeout)
        if let pauses = keys["pauses"] {
            let parts = reader.mapping(pauses, "pauses")
            activity.pauseBefore = parts["before"]?.scalar.flatMap { Double($0.text) } ?? 0
            activity.pauseAfter = parts["after"]?.scalar.flatMap { Double($0.text) } ?? 0
        }
        if keys["background"]?.scalar?.text == "true" {
            unsupported.append("\(place): '\(name)' asks to run in the background; Medic runs it in order")
        }
        if probe {
            guard let node = keys["tolerance"] else {
                reader.fail(node, "probe '\(name)' of the steady-state hypothesis has no tolerance")
                return nil
            }
            guard let tolerance = tolerance(node, reader) else {
                unsupported.append("\(place): the tolerance of '\(name)' is of a kind Medic does not evaluate (jsonpath, probe); the probe is left out")
                return nil
            }
            activity.tolerance = tolerance
        } else if case .http = kind, let expected = provider["expected_status"]?.scalar.flatMap({ Int($0.text) }) {
            activity.tolerance = .status([expected])
        } else {
            // Chaos Toolkit counts an action (or a probe of the method) as done when it ran,
            // whatever it answered; only a failure to run it at all is a failure.
            activity.tolerance = .anyAnswer
        }
        return activity
    }

    private func tolerance(_ node: SourceNode, _ reader: ChaosNodeReader) -> ChaosTolerance? {
        if let items = node.sequence {
            let numbers = items.compactMap { $0.scalar.flatMap { Int($0.text) } }
            return numbers.count == items.count && !numbers.isEmpty ? .status(numbers) : nil
        }
        if let scalar = node.scalar {
            if scalar.style == .plain, let number = Int(scalar.text) { return .status([number]) }
            if scalar.style == .plain, scalar.text == "true" || scalar.text == "false" { return .succeeded(scalar.text == "true") }
            return .output(scalar.text)
        }
        let parts = node.mapping.map { Dictionary($0.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }) } ?? [:]
        switch parts["type"]?.scalar?.text {
        case "regex": return parts["pattern"]?.scalar.map { .regex($0.text) }
        case "range":
            let bounds = parts["range"]?.sequence?.compactMap { $0.scalar.flatMap { Double($0.text) } } ?? []
            return bounds.count == 2 ? .statusRange(bounds[0], bounds[1]) : nil
        default: return nil
        }
    }

    /// `${name}` replaced by the configuration's and the secrets' values; an unknown name stays.
    private func substitute(_ text: String, _ values: [String: String]) -> String {
        var result = text
        for (name, value) in values { result = result.replacingOccurrences(of: "${\(name)}", with: value) }
        return result
    }

    /// A mapping or list as JSON text (an http provider's `arguments` is its body).
    private func json(_ node: SourceNode) -> String? {
        func plain(_ node: SourceNode) -> Any {
            switch node.content {
            case .scalar(let s):
                if s.style == .plain, let number = Int(s.text) { return number }
                if s.style == .plain, let number = Double(s.text) { return number }
                if s.style == .plain, s.text == "true" || s.text == "false" { return s.text == "true" }
                return s.text
            case .sequence(let items): return items.map(plain)
            case .mapping(let pairs): return Dictionary(pairs.map { ($0.key, plain($0.value)) }, uniquingKeysWith: { first, _ in first })
            }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: plain(node), options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func slug(_ title: String) -> String {
        let words = title.lowercased().split { !$0.isLetter && !$0.isNumber }
        return words.isEmpty ? "experiment" : words.joined(separator: "-")
    }
}
