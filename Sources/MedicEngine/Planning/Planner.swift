import MedicModel

/// A problem that stops a plan from being made (a missing input, a value of the wrong type).
public struct PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the `Plan` of a playbook: a pure function of the playbook, the action library, the
/// given parameters and the targets. Gate verdicts join it with the safety gates (issue 4).
public struct Planner: Sendable {
    /// The timeout of a step that gives none and whose action gives none.
    public static let defaultStepTimeout = Interval(seconds: 300)

    public let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// `given`: parameter values as typed on a command line or sent by an alert (`name` -> text).
    public func plan(_ playbook: Playbook, given: [String: String] = [:], targets: [TargetSpec]? = nil) throws -> Plan {
        try plan(playbook, values: given.mapValues { .scalar($0, quoted: false) }, targets: targets)
    }

    /// `values`: parameter values as a rule or an alert gives them (text, or lists and maps),
    /// typed against the playbook's declarations as the command line's are.
    public func plan(_ playbook: Playbook, values given: [String: StepArgument.RawValue], targets: [TargetSpec]? = nil) throws -> Plan {
        let inputs = try resolveInputs(of: playbook, given: given)
        var available = Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, $0) })
        var steps: [PlannedStep] = []
        for step in playbook.steps {
            let planned = try plan(step, available: available)
            steps.append(planned)
            // What a step writes is what later steps see, whatever was there before.
            for output in planned.outputs {
                available[output] = RenderedParameter(name: output, value: "", source: .outputOfStep(step.number))
            }
        }
        let undo = try (playbook.rollback?.steps ?? []).map { try plan($0, available: available) }
        var result = Plan(
            playbookID: playbook.id, playbookVersion: playbook.version, playbookName: playbook.name, severity: playbook.severity,
            parameters: inputs,
            targets: targets ?? playbook.targets ?? [], steps: steps, verification: playbook.verification,
            rollback: PlannedRollback(available: playbook.rollback?.available ?? false, reason: playbook.rollback?.reason, steps: undo),
            escalation: playbook.escalation, safety: playbook.safety)
        result.preconditions = playbook.preconditions
        result.category = playbook.category
        if !result.targets.isEmpty {
            var seen = Set<String>()
            if let twice = result.targets.first(where: { !seen.insert($0.name).inserted }) {
                throw PlanError("target '\(twice.name)' is given twice; each target is remediated once")
            }
            result.rollout = try RolloutPlanner.plan(
                targets: result.targets, policy: playbook.rollout,
                containment: catalog.policies.containmentStrategies.first { $0.name == "progressive_rollout" },
                playbookID: playbook.id)
        }
        return result
    }

    /// The playbook's inputs: given values typed against their declaration, else defaults.
    private func resolveInputs(of playbook: Playbook, given: [String: StepArgument.RawValue]) throws -> [RenderedParameter] {
        let declared = Set(playbook.parameters.map(\.name))
        if let unknown = given.keys.sorted().first(where: { !declared.contains($0) }) {
            let hint = Spelling.suggestion(for: unknown, among: declared).map { " (did you mean '\($0)'?)" } ?? ""
            let known = declared.isEmpty ? "it declares none" : "it declares: \(declared.sorted().joined(separator: ", "))"
            throw PlanError("playbook '\(playbook.id)' has no parameter '\(unknown)'\(hint); \(known)")
        }
        var inputs: [RenderedParameter] = []
        for spec in playbook.parameters {
            if let value = given[spec.name] {
                switch spec.accept(value) {
                case .success(let value): inputs.append(RenderedParameter(name: spec.name, value: value.environmentValue, source: .given))
                case .failure(let error): throw PlanError("parameter '\(spec.name)': \(error.message)")
                }
            } else if let value = spec.defaultValue {
                inputs.append(RenderedParameter(name: spec.name, value: value.environmentValue, source: .default))
            } else if spec.required {
                throw PlanError("playbook '\(playbook.id)' needs parameter '\(spec.name)': give --param \(spec.name)=VALUE")
            }
        }
        return inputs
    }

    private func plan(_ step: RemediationStep, available: [String: RenderedParameter]) throws -> PlannedStep {
        guard let action = catalog.action(named: step.action) else {
            throw PlanError("step \(step.number) uses action '\(step.action)', which is not in the library")
        }
        var environment: [String: RenderedParameter] = [:]
        for spec in action.parameters {
            if let argument = step.arguments.first(where: { $0.name == spec.name }) {
                environment[spec.name] = try render(argument, spec: spec, available: available, step: step)
            } else if let inherited = available[spec.name] {
                // The playbook's input, or an earlier step's output, of that name: what the operator
                // gave (`--param size_mb=4`) outranks the action's default.
                environment[spec.name] = inherited
            } else if let value = spec.defaultValue {
                environment[spec.name] = RenderedParameter(name: spec.name, value: value.environmentValue, source: .default)
            } else if spec.required {
                throw PlanError("step \(step.number) (\(step.name)): action '\(action.name)' needs '\(spec.name)'")
            }
        }
        var planned = PlannedStep(
            number: step.number, name: step.name, action: action.name, executor: action.executor, riskLevel: action.riskLevel,
            environment: environment.values.sorted { $0.name < $1.name }, script: action.implementation?.text,
            verificationScript: action.verification?.text, rollbackScript: action.rollback?.text, topic: action.topic,
            request: action.request, timeout: step.timeout ?? action.timeout ?? Self.defaultStepTimeout, retry: step.retry,
            onFailure: step.onFailure, idempotent: step.idempotent ?? action.idempotent, maintenanceOnly: action.maintenanceOnly,
            outputs: action.outputs)
        planned.preconditions = action.preconditions
        return planned
    }

    /// A step's value: `${name}` references take the playbook input or earlier output they name;
    /// the result is typed against the action's declaration.
    private func render(_ argument: StepArgument, spec: ParameterSpec, available: [String: RenderedParameter],
                        step: RemediationStep) throws -> RenderedParameter {
        var pending: ParameterOrigin?
        func substitute(_ raw: StepArgument.RawValue) -> StepArgument.RawValue {
            switch raw {
            case .scalar(let text, let quoted):
                var result = ""
                var rest = Substring(text)
                while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
                    result += rest[..<open.lowerBound]
                    let name = String(rest[open.upperBound..<close])
                    if let value = available[name] {
                        if value.source.isStepOutput { pending = value.source }
                        result += value.value
                    } else {
                        result += "${\(name)}"
                    }
                    rest = rest[rest.index(after: close)...]
                }
                return .scalar(result + rest, quoted: quoted)
            case .list(let items): return .list(items.map(substitute))
            case .map(let map): return .map(map.mapValues(substitute))
            }
        }
        let value = substitute(argument.value)
        if let pending { return RenderedParameter(name: spec.name, value: "", source: pending) }
        switch spec.accept(value) {
        case .success(let typed): return RenderedParameter(name: spec.name, value: typed.environmentValue, source: .step)
        case .failure(let error): throw PlanError("step \(step.number) (\(step.name)): parameter '\(spec.name)': \(error.message)")
        }
    }
}
