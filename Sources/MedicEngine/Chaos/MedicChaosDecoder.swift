import Foundation
import MedicLoader
import MedicModel

/// Medic's own experiment format (docs/chaos.md, "The experiment format").
struct MedicChaosDecoder {
    let file: String

    private static let topKeys: Set = ["kind", "$schema", "id", "title", "fault_type", "pattern", "targets", "setup", "steady_state",
                                       "steady_state_within", "fault", "teardown", "detection", "recovery", "blast_radius"]
    private static let activityKeys: Set = ["name", "shell", "process", "http", "environment", "timeout", "pause_before", "pause_after", "expect"]

    func decode(_ root: SourceNode) throws -> ChaosExperiment {
        let reader = ChaosNodeReader(file: file)
        let keys = reader.mapping(root, "an experiment", known: Self.topKeys)
        if let kind = keys["kind"], kind.scalar?.text != "chaos_experiment" {
            reader.fail(kind, "'kind' must be chaos_experiment")
        }
        let id = reader.text(keys["id"], "id", in: root, required: true) ?? ""
        let faultType = reader.text(keys["fault_type"], "fault_type", in: root, required: true) ?? ""
        var experiment = ChaosExperiment(
            id: id, title: reader.text(keys["title"], "title", in: root) ?? id, format: .medic, file: file, faultType: faultType,
            pattern: reader.text(keys["pattern"], "pattern", in: root) ?? faultType, targets: reader.targets(keys["targets"]))
        experiment.setup = activities(keys["setup"], "setup", reader, probes: false)
        experiment.steadyState = activities(keys["steady_state"], "steady_state", reader, probes: true)
        experiment.steadyStateWithin = reader.seconds(keys["steady_state_within"], "steady_state_within", default: 15)
        experiment.teardown = activities(keys["teardown"], "teardown", reader, probes: false)
        if let fault = keys["fault"] {
            let parts = reader.mapping(fault, "fault", known: ["inject", "revert"])
            experiment.inject = activities(parts["inject"], "fault.inject", reader, probes: false)
            experiment.revert = activities(parts["revert"], "fault.revert", reader, probes: false)
            if experiment.inject.isEmpty { reader.fail(fault, "'fault.inject' must list at least one activity") }
            if experiment.revert.isEmpty { reader.fail(fault, "'fault.revert' must list at least one activity: a fault is always reverted") }
        } else {
            reader.fail(root, "missing 'fault' (its 'inject' and 'revert' activities)")
        }
        if experiment.steadyState.isEmpty { reader.fail(keys["steady_state"] ?? root, "'steady_state' must list at least one probe") }
        if let detection = keys["detection"] {
            let parts = reader.mapping(detection, "detection", known: ["rule", "playbook", "within"])
            if let rule = parts["rule"] {
                experiment.detectionRules = rule.sequence.map { $0.compactMap { reader.text($0, "rule", in: rule) } }
                    ?? [reader.text(rule, "rule", in: detection)].compactMap { $0 }
            }
            experiment.playbook = reader.text(parts["playbook"], "playbook", in: detection)
            experiment.detectWithin = reader.seconds(parts["within"], "detection.within", default: 60)
        }
        if let recovery = keys["recovery"] {
            let parts = reader.mapping(recovery, "recovery", known: ["within"])
            experiment.recoverWithin = reader.seconds(parts["within"], "recovery.within", default: 120)
        }
        if let radius = keys["blast_radius"] {
            let parts = reader.mapping(radius, "blast_radius", known: ["max_incidents"])
            experiment.maxIncidents = reader.integer(parts["max_incidents"], "max_incidents", default: 1)
        }
        guard reader.problems.isEmpty else { throw ChaosExperimentError(reader.problems) }
        return experiment
    }

    private func activities(_ node: SourceNode?, _ what: String, _ reader: ChaosNodeReader, probes: Bool) -> [ChaosActivity] {
        reader.list(node, what).enumerated().compactMap { index, item in activity(item, "\(what)[\(index)]", reader, probe: probes) }
    }

    private func activity(_ node: SourceNode, _ what: String, _ reader: ChaosNodeReader, probe: Bool) -> ChaosActivity? {
        let keys = reader.mapping(node, what, known: probe ? Self.activityKeys : Self.activityKeys.subtracting(["expect"]))
        let name = reader.text(keys["name"], "name", in: node, required: true) ?? what
        let given = ["shell", "process", "http"].filter { keys[$0] != nil }
        guard given.count == 1 else {
            reader.fail(node, "\(what) must have exactly one of shell, process, http (found \(given.isEmpty ? "none" : given.joined(separator: ", ")))")
            return nil
        }
        let kind: ChaosActivity.Kind
        switch given[0] {
        case "shell":
            guard let script = reader.text(keys["shell"], "shell", in: node, required: true) else { return nil }
            kind = .shell(script: script)
        case "process":
            let parts = reader.mapping(keys["process"]!, "\(what).process", known: ["path", "arguments"])
            guard let path = reader.text(parts["path"], "path", in: keys["process"]!, required: true) else { return nil }
            let arguments = reader.list(parts["arguments"], "arguments").compactMap { reader.text($0, "arguments", in: $0) }
            kind = .process(path: path, arguments: arguments, argumentLine: nil)
        default:
            let parts = reader.mapping(keys["http"]!, "\(what).http", known: ["url", "method", "headers", "body"])
            guard let url = reader.text(parts["url"], "url", in: keys["http"]!, required: true) else { return nil }
            kind = .http(ChaosHTTPCall(url: url, method: reader.text(parts["method"], "method", in: node) ?? "GET",
                                       headers: reader.labels(parts["headers"], "headers"), body: reader.text(parts["body"], "body", in: node)))
        }
        var activity = ChaosActivity(name: name, kind: kind, environment: reader.labels(keys["environment"], "environment"),
                                     timeout: reader.seconds(keys["timeout"], "timeout", default: 30),
                                     pauseBefore: reader.seconds(keys["pause_before"], "pause_before", default: 0),
                                     pauseAfter: reader.seconds(keys["pause_after"], "pause_after", default: 0))
        if let expect = keys["expect"] { activity.tolerance = tolerance(expect, reader) }
        return activity
    }

    /// `expect: {status: 200}` (or a list), `{output: TEXT}`, `{matches: REGEX}`.
    private func tolerance(_ node: SourceNode, _ reader: ChaosNodeReader) -> ChaosTolerance? {
        let parts = reader.mapping(node, "expect", known: ["status", "output", "matches"])
        guard parts.count == 1, let (key, value) = parts.first else {
            reader.fail(node, "'expect' takes exactly one of status, output, matches")
            return nil
        }
        switch key {
        case "status":
            let items = value.sequence ?? [value]
            let statuses = items.compactMap { $0.scalar.flatMap { Int($0.text) } }
            guard statuses.count == items.count, !statuses.isEmpty else {
                reader.fail(value, "'expect.status' must be a whole number or a list of them")
                return nil
            }
            return .status(statuses)
        case "output":
            return reader.text(value, "expect.output", in: node).map(ChaosTolerance.output)
        default:
            guard let pattern = reader.text(value, "expect.matches", in: node) else { return nil }
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                reader.fail(value, "'expect.matches' is not a regular expression")
                return nil
            }
            return .regex(pattern)
        }
    }
}
