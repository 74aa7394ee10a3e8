import MedicModel

/// Stage three of loading: checks that need more than one file (ids, references between
/// playbooks, actions, rules and policies, parameters against their declarations, shell variables).
struct CatalogLint {
    let catalog: Catalog
    private let actionsByName: [String: Action]

    init(catalog: Catalog) {
        self.catalog = catalog
        var byName: [String: Action] = [:]
        for action in catalog.actions where byName[action.name] == nil { byName[action.name] = action }
        actionsByName = byName
    }

    func check() -> [Diagnostic] {
        var out: [Diagnostic] = []
        out += duplicates(catalog.playbooks.map { ($0.id, $0.location) }, code: .duplicatePlaybookID, what: "playbook_id")
        out += duplicates(catalog.actions.map { ($0.name, $0.location) }, code: .duplicateName, what: "action")
        out += duplicates(catalog.rules.map { ($0.name, $0.location) }, code: .duplicateName, what: "rule")
        for action in catalog.actions { out += checkScripts(of: action) }
        let escalationIDs = Set(catalog.policies.escalationPolicies.map(\.id))
        // Each playbook's steps are checked on their own: spread them over the cores.
        let playbooks = catalog.playbooks
        let chunk = 256
        let lint = self
        let perChunk = LoaderThreads.map(count: (playbooks.count + chunk - 1) / chunk) { index in
            playbooks[(index * chunk)..<min(playbooks.count, (index + 1) * chunk)].flatMap { lint.checkSteps(of: $0) }
        }
        out += perChunk.flatMap { $0 }
        for playbook in playbooks {
            if let escalation = playbook.escalation, let policy = escalation.policy, !escalationIDs.contains(policy) {
                let hint = Spelling.didYouMean(policy, among: escalationIDs)
                    ?? (escalationIDs.isEmpty ? "no escalation policies are loaded; add policies/ to the paths"
                        : "defined: \(escalationIDs.sorted().joined(separator: ", "))")
                out.append(Diagnostic(.unresolvedReference, "escalation policy '\(policy)' is not defined",
                                      at: escalation.policyLocation ?? playbook.location, hint: hint))
            }
        }
        out += checkRules()
        out += checkPolicies()
        return out
    }

    private func duplicates(_ items: [(String, SourceLocation)], code: DiagnosticCode, what: String) -> [Diagnostic] {
        var first: [String: SourceLocation] = [:]
        var out: [Diagnostic] = []
        for (name, location) in items where !name.isEmpty {
            if let earlier = first[name] {
                out.append(Diagnostic(code, "\(what) '\(name)' is already defined at \(earlier.description)", at: location,
                                      hint: "give each \(what) a unique name"))
            } else {
                first[name] = location
            }
        }
        return out
    }

    // MARK: Playbooks

    private func checkSteps(of playbook: Playbook) -> [Diagnostic] {
        var out: [Diagnostic] = []
        // Values a step may take from elsewhere: the playbook's inputs and earlier steps' outputs.
        var available = Set(playbook.parameters.map(\.name))
        let allSteps = playbook.steps + (playbook.rollback?.steps ?? [])
        for step in allSteps {
            guard let action = actionsByName[step.action] else {
                let hint = Spelling.didYouMean(step.action, among: actionsByName.keys)
                    ?? (actionsByName.isEmpty ? "no action library is loaded; add actions/ to the paths"
                        : "actions are defined in the action library under actions/")
                out.append(Diagnostic(.unknownAction, "step \(step.number) uses action '\(step.action)', which is not in the library",
                                      at: step.location, hint: hint))
                continue
            }
            out += checkArguments(of: step, against: action, available: available)
            available.formUnion(action.outputs)
        }
        return out
    }

    private func checkArguments(of step: RemediationStep, against action: Action, available: Set<String>) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let declared = action.parameters.map(\.name)
        var given: Set<String> = []
        for argument in step.arguments {
            given.insert(argument.name)
            guard let spec = action.parameter(named: argument.name) else {
                // A key a step does not know is read as an action parameter (`graceful: true`), so a
                // misspelt step key (`timout`) arrives here: it is named as the step key it resembles.
                let stepKey = Spelling.suggestion(for: argument.name, among: PlaybookDecoder.stepKeys)
                    .map { "did you mean the step key '\($0)'?" }
                let hint = Spelling.didYouMean(argument.name, among: declared) ?? stepKey
                    ?? (declared.isEmpty ? "action '\(action.name)' takes no parameters"
                        : "action '\(action.name)' takes: \(declared.joined(separator: ", "))")
                out.append(Diagnostic(.unknownParameter, "action '\(action.name)' has no parameter '\(argument.name)'",
                                      at: argument.location, hint: hint))
                continue
            }
            let references = Self.templateReferences(argument.value)
            if !references.isEmpty {
                // A value built from the playbook's inputs is typed when the run renders it.
                for name in references where !available.contains(name) && !ShellVariables.isContext(name) {
                    out.append(Diagnostic(.undeclaredVariable, "'${\(name)}' in parameter '\(argument.name)' is not a playbook parameter or an earlier step's output",
                                          at: argument.location, hint: "declare it under the playbook's 'parameters:'"))
                }
                continue
            }
            if spec.type == .string, case .scalar(let text, quoted: false) = argument.value, let implicit = ImplicitType.of(text),
               implicit == .yaml11Boolean || implicit == .octal || implicit == .sexagesimal {
                out.append(Diagnostic(.implicitTyping, "parameter '\(argument.name)' of action '\(action.name)': '\(text)' is read as \(implicit.description) by YAML 1.1 tools, not text",
                                      at: argument.location, hint: "quote it: \"\(text)\""))
                continue
            }
            if case .failure(let error) = spec.accept(argument.value) {
                out.append(Diagnostic(.parameterValue, "parameter '\(argument.name)' of action '\(action.name)': \(error.message)",
                                      at: argument.location, hint: error.hint ?? spec.type.map { "expected a value of type \($0.rawValue)" }))
            }
        }
        for spec in action.parameters where spec.required && !given.contains(spec.name) && !available.contains(spec.name) {
            out.append(Diagnostic(.missingParameter, "step \(step.number) does not give required parameter '\(spec.name)' of action '\(action.name)'",
                                  at: step.location, hint: "add '\(spec.name): …' to the step, or declare it under the playbook's 'parameters:'"))
        }
        return out
    }

    /// `${name}` references inside a step's scalar values.
    static func templateReferences(_ value: StepArgument.RawValue) -> [String] {
        switch value {
        case .scalar(let text, _):
            guard text.contains("${") else { return [] }
            return ShellVariables.references(in: text.replacingSingleQuotes).map(\.name)
        case .list(let items): return items.flatMap(templateReferences)
        case .map(let map): return map.values.flatMap(templateReferences)
        }
    }

    // MARK: Actions

    private func checkScripts(of action: Action) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let declared = Set(action.parameters.map(\.name)).union(action.outputs)
        for (label, script) in [("implementation", action.implementation), ("verification", action.verification), ("rollback", action.rollback)] {
            guard let script else { continue }
            let local = ShellVariables.assigned(in: script.text)
            var reported: Set<String> = []
            for reference in ShellVariables.references(in: script.text) {
                let name = reference.name
                guard !declared.contains(name), !local.contains(name), !ShellVariables.isContext(name), reported.insert(name).inserted else { continue }
                let location = SourceLocation(file: script.location.file, line: script.location.line.map { $0 + reference.line },
                                              column: script.location.column.map { $0 + reference.column })
                let hint = Spelling.suggestion(for: name, among: declared).map { "did you mean '${\($0)}'?" }
                    ?? "declare '\(name)' under the action's 'parameters:' (or 'outputs:' if an earlier step writes it)"
                out.append(Diagnostic(.undeclaredVariable, "'${\(name)}' in the \(label) of action '\(action.name)' is not declared",
                                      at: location, hint: hint))
            }
        }
        return out
    }

    // MARK: Rules

    private func checkRules() -> [Diagnostic] {
        var out: [Diagnostic] = []
        let playbooks = Dictionary(catalog.playbooks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for rule in catalog.rules {
          for id in rule.playbooks {
            guard let playbook = playbooks[id] else {
                let hint = Spelling.didYouMean(id, among: playbooks.keys)
                    ?? (playbooks.isEmpty ? "no playbooks are loaded; add playbooks/ to the paths" : "check the playbook_id")
                out.append(Diagnostic(.unknownPlaybook, "rule '\(rule.name)' starts playbook '\(id)', which is not loaded",
                                      at: rule.playbookLocation ?? rule.location, hint: hint))
                continue
            }
            let inputs = playbook.parameters.map(\.name)
            let mapped = rule.parameters.map { ($0.name, $0.location) } + rule.parametersFromLabels.keys.sorted().map { ($0, rule.location) }
            for (name, location) in mapped where !inputs.contains(name) {
                let hint = Spelling.didYouMean(name, among: inputs)
                    ?? (inputs.isEmpty ? "playbook '\(id)' declares no parameters" : "its parameters: \(inputs.joined(separator: ", "))")
                out.append(Diagnostic(.unknownParameter, "playbook '\(id)' has no parameter '\(name)'", at: location, hint: hint))
            }
          }
        }
        return out
    }

    // MARK: Policies

    /// `SEV1`, `SEV9_X`: a word that means to name a severity level.
    static func looksLikeSeverity(_ word: String) -> Bool {
        let upper = Array(word.uppercased().unicodeScalars)
        return upper.count >= 4 && String(String.UnicodeScalarView(upper[0..<3])) == "SEV" && ("0"..."9").contains(upper[3])
    }

    private func checkPolicies() -> [Diagnostic] {
        var out: [Diagnostic] = []
        let policies = catalog.policies
        out += duplicates(policies.severityLevels.map { ($0.severity.code, $0.location) }, code: .duplicateName, what: "severity level")
        out += duplicates(policies.escalationPolicies.map { ($0.id, $0.location) }, code: .duplicateName, what: "escalation policy")
        let levels = Set(policies.severityLevels.map(\.severity))
        if !levels.isEmpty {
            for trigger in policies.autoEscalationTriggers {
                if case .toSeverity(let severity) = trigger.action, !levels.contains(severity) {
                    out.append(Diagnostic(.unresolvedReference, "trigger '\(trigger.name)' escalates to \(severity.code), which has no severity level",
                                          at: trigger.location, hint: "define \(severity.code) under severity_levels"))
                }
            }
        }
        for level in policies.severityLevels {
            for action in level.allowedActions where actionsByName[action] == nil && !catalog.actions.isEmpty {
                let hint = Spelling.didYouMean(action, among: actionsByName.keys)
                out.append(Diagnostic(.unresolvedReference, "severity level \(level.name) allows action '\(action)', which is not in the library",
                                      at: level.location, hint: hint))
            }
        }
        // `severity < SEV1` in approval conditions must name a severity.
        for policy in policies.blastRadiusLevels {
            for case .condition(let condition) in policy.approvalRequiredIf {
                for reference in condition.expression.references where Self.looksLikeSeverity(reference.name) {
                    if Severity(text: reference.name) == nil {
                        out.append(Diagnostic(.unknownSeverity, "'\(reference.name)' in '\(condition.source)' is not a severity",
                                              at: policy.location, hint: "severities are SEV0..SEV3"))
                    }
                }
            }
        }
        return out
    }
}

extension String {
    /// Template values are not shell text: a quote in them is an ordinary character.
    fileprivate var replacingSingleQuotes: String { String(unicodeScalars.map { $0 == "'" ? " " : Character($0) }) }
}
