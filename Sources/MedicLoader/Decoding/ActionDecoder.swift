import MedicModel

/// Decodes an action library file: `actions:` name -> action (§4).
struct ActionDecoder {
    let context: DecodeContext

    static let keys = [
        "type", "executor", "description", "risk_level", "parameters", "implementation", "verification", "rollback",
        "pre_conditions", "outputs", "idempotent", "maintenance_only", "timeout", "topic", "request",
    ]
    static let categories = Category.allCases.map(\.rawValue) + ["bus", "http", "shell"]

    func decode(_ root: SourceNode) -> [Action] {
        guard let f = context.fields(root, "the action library", known: ["$schema", "kind", "actions"]),
              let actionsNode = f.required("actions") else { return [] }
        guard let pairs = actionsNode.mapping else {
            context.report(.wrongType, "'actions' must be a mapping of action names to actions, found \(actionsNode.kindDescription)",
                           at: actionsNode.location)
            return []
        }
        return pairs.compactMap { action(named: $0.key, keyNode: $0.keyNode, $0.value) }
    }

    private func action(named name: String, keyNode: SourceNode, _ node: SourceNode) -> Action? {
        context.checkIdentifier(name, keyNode, "action name", why: "steps name the action by it, and it names its journal records")
        let what = "action '\(name)'"
        guard let f = context.fields(node, what, known: Self.keys) else { return nil }
        let category = f.required("type").flatMap { n in context.word(n, "'type'", Self.categories) { Self.categories.contains($0) ? $0 : nil } }
        let risk = f.enumValue("risk_level", RiskLevel.self, required: true)
        let executor = f.enumValue("executor", ExecutorKind.self) ?? .shell
        var action = Action(name: name, category: category ?? "", executor: executor, description: f.text("description"),
                            riskLevel: risk ?? .medium, location: keyNode.location)
        action.parameters = context.parameterSpecs(f["parameters"], "'parameters' of \(what)")
        action.implementation = f["implementation"].flatMap { context.shellScript($0, "'implementation'") }
        action.verification = f["verification"].flatMap { context.shellScript($0, "'verification'") }
        if let rollbackNode = f["rollback"] {
            if let s = rollbackNode.scalar, s.style == .plain, s.text == "none" {
                action.rollback = nil
            } else {
                action.rollback = context.shellScript(rollbackNode, "'rollback'")
            }
        }
        action.preconditions = context.preconditions(f["pre_conditions"], "'pre_conditions'")
        if let outputsNode = f["outputs"], let items = context.list(outputsNode, "'outputs'") {
            for item in items {
                guard let output = context.string(item, "an output name") else { continue }
                context.checkIdentifier(output, item, "output name")
                action.outputs.append(output)
            }
        }
        action.idempotent = f.bool("idempotent") ?? true
        action.maintenanceOnly = f.bool("maintenance_only") ?? false
        action.timeout = f.duration("timeout")
        action.topic = f.string("topic")
        action.request = f["request"].flatMap(request)
        switch executor {
        case .shell where action.implementation == nil && f["implementation"] == nil:
            context.report(.missingKey, "missing required key 'implementation' in \(what)", at: node.location,
                           hint: "a shell action needs the POSIX sh text it runs; or set 'executor: bus' or 'executor: http'")
        case .bus where f["topic"] == nil:
            context.report(.missingKey, "missing required key 'topic' in \(what) (executor bus)", at: node.location,
                           hint: "name the CloudEvents type to publish, e.g. observability.alert.operator")
        case .http where f["request"] == nil:
            context.report(.missingKey, "missing required key 'request' in \(what) (executor http)", at: node.location,
                           hint: "give request: {method, url, expect_status}")
        default: break
        }
        return category != nil && risk != nil ? action : nil
    }

    private func request(_ node: SourceNode) -> HTTPRequestSpec? {
        let keys = ["method", "url", "headers", "body", "expect_status", "expect_json"]
        guard let f = context.fields(node, "'request'", known: keys) else { return nil }
        let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
        let method = f["method"].flatMap { n in context.word(n, "'method'", methods) { methods.contains($0) ? $0 : nil } } ?? "GET"
        guard let url = f.string("url", required: true) else { return nil }
        var spec = HTTPRequestSpec(method: method, url: url, headers: f["headers"].flatMap { context.stringMap($0, "'headers'") } ?? [:],
                                   body: f.text("body"))
        if let statusNode = f["expect_status"] {
            if let items = statusNode.sequence {
                spec.expectStatus = items.compactMap { context.integer($0, "a status", min: 100, max: 599) }
            } else if let status = context.integer(statusNode, "'expect_status'", min: 100, max: 599) {
                spec.expectStatus = [status]
            }
        }
        if let jsonNode = f["expect_json"], let j = context.fields(jsonNode, "'expect_json'", known: ["path", "equals"]),
           let path = j.string("path", required: true), let equals = j.required("equals").flatMap({ context.text($0, "'equals'") }) {
            spec.expectJSON = .init(path: path, equals: equals)
        }
        return spec
    }
}
