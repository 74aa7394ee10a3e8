import MedicModel

extension DecodeContext {
    /// A value as written, kept raw until the catalog pass types it against a declaration.
    func rawValue(_ node: SourceNode, depth: Int = 0) -> StepArgument.RawValue? {
        switch node.content {
        case .scalar(let s):
            if node.isNull {
                report(.wrongType, "a parameter value is missing (null)", at: node.location, hint: "write a value after the colon")
                return nil
            }
            return .scalar(s.text, quoted: s.style != .plain)
        case .sequence(let items):
            return .list(items.compactMap { rawValue($0, depth: depth + 1) })
        case .mapping(let pairs):
            var map: [String: StepArgument.RawValue] = [:]
            for pair in pairs { map[pair.key] = rawValue(pair.value, depth: depth + 1) }
            return .map(map)
        }
    }

    /// Precondition forms (docs/format.md): `{check: NAME}`, `{condition: EXPR}`, a condition
    /// string, a one-key map `{NAME: expected}`, or a metric with a bound `{memory_available: ">100MB"}`.
    func precondition(_ node: SourceNode, _ what: String) -> Precondition? {
        if node.scalar != nil {
            return condition(node, what).map { .condition($0) }
        }
        guard let pairs = node.mapping else {
            report(.wrongType, "\(what) must be a check or a condition, found \(node.kindDescription)", at: node.location,
                   hint: "write '- check: writable_filesystem' or '- disk_usage_percent < 90'")
            return nil
        }
        if pairs.contains(where: { $0.key == "check" || $0.key == "condition" }) {
            guard let f = fields(node, what, known: ["check", "condition", "expected"]) else { return nil }
            if f["check"] != nil && f["condition"] != nil {
                report(.invalidValue, "\(what) has both 'check' and 'condition'", at: node.location,
                       hint: "write them as two items of the list")
                return nil
            }
            if let checkNode = f["check"] {
                guard let name = string(checkNode, "'check'") else { return nil }
                let expected = f["expected"].flatMap { rawValue($0) }.flatMap { try? ParameterSpec.typed($0, as: nil).get() }
                return .check(name: name, expected: expected)
            }
            return f.condition("condition", required: true).map { .condition($0) }
        }
        guard pairs.count == 1, let pair = pairs.first else {
            report(.wrongType, "\(what) must have one key (a named check), found \(pairs.count)", at: node.location,
                   hint: "write one check per list item")
            return nil
        }
        // `- memory_available: ">100MB"` (§2.1's spelling) is a condition on that metric.
        if let s = pair.value.scalar, let first = s.text.unicodeScalars.first, "<>=!".unicodeScalars.contains(first) {
            guard let bound = bound(pair.value, "'\(pair.key)'") else { return nil }
            let expression = ConditionExpression.comparison(.reference(MetricSelector(name: pair.key)), bound.op, .literal(bound.value))
            return .condition(Condition(source: "\(pair.key) \(bound)", expression: expression))
        }
        guard let raw = rawValue(pair.value) else { return nil }
        guard case .success(let expected) = ParameterSpec.typed(raw, as: nil) else {
            report(.wrongType, "the expected value of check '\(pair.key)' must be a single value or a list, found \(pair.value.kindDescription)",
                   at: pair.value.location, hint: "write '- \(pair.key): true', or a bound such as '- \(pair.key): \">100MB\"'")
            return nil
        }
        return .check(name: pair.key, expected: expected)
    }

    /// `checksNamed`: whether a named check must be one Medic carries out (M314 warning); not so
    /// for policy conditions such as `service_is_critical: true`, which name incident facts.
    func preconditions(_ node: SourceNode?, _ what: String, checksNamed: Bool = true) -> [Precondition] {
        guard let node, let items = list(node, what) else { return [] }
        return items.compactMap { item in
            let result = precondition(item, "an item of \(what)")
            if checksNamed, case .check(let name, _) = result, !Precondition.knownChecks.contains(name) {
                let hint = Spelling.didYouMean(name, among: Precondition.knownChecks)
                    ?? "known checks: \(Precondition.knownChecks.joined(separator: ", ")); or write a condition"
                report(.unknownCheck, "precondition check '\(name)' is not one Medic knows; it will fail when run",
                       at: item.mapping?.first?.value.location ?? item.location, hint: hint)
            }
            return result
        }
    }

    /// A parameter declaration in any of its forms (docs/format.md, "Parameter specs").
    func parameterSpec(name: String, _ node: SourceNode) -> ParameterSpec? {
        let what = "parameter '\(name)'"
        switch node.content {
        case .scalar(let s):
            if node.isNull { return ParameterSpec(name: name) }
            if s.style == .plain {
                if s.text == "required" { return ParameterSpec(name: name, required: true) }
                if s.text == "optional" { return ParameterSpec(name: name) }
                if let type = ParameterType(rawValue: s.text) { return ParameterSpec(name: name, type: type) }
            }
            let value = ParameterSpec.inferred(s.text, quoted: s.style != .plain)
            return ParameterSpec(name: name, type: Self.type(of: value), defaultValue: value)
        case .sequence(let items):
            let words = items.compactMap { text($0, "an item of \(what)") }
            // A plural name holds a list (`exclude_users: [backup, replication]` is a default);
            // a singular one chooses among the words (`resource_type: [memory, cpu, disk]`).
            if name.hasSuffix("s") && !name.hasSuffix("ss") {
                let values = items.compactMap { rawValue($0) }.compactMap { try? ParameterSpec.typed($0, as: nil).get() }
                return ParameterSpec(name: name, type: .list, defaultValue: .list(values))
            }
            guard !words.isEmpty else {
                report(.wrongType, "\(what): an enum needs at least one value", at: node.location)
                return nil
            }
            return ParameterSpec(name: name, type: .string, allowedValues: words)
        case .mapping:
            guard let f = fields(node, what, known: ["type", "required", "default", "enum", "description"]) else { return nil }
            var spec = ParameterSpec(name: name)
            spec.type = f.enumValue("type", ParameterType.self)
            spec.required = f.bool("required") ?? false
            spec.description = f.text("description")
            spec.allowedValues = f.texts("enum")
            if let defaultNode = f["default"], let raw = rawValue(defaultNode) {
                switch spec.accept(raw) {
                case .success(let value): spec.defaultValue = value
                case .failure(let error):
                    let code: DiagnosticCode = switch spec.type {
                    case .duration: .badDuration
                    case .percentage: .badPercentage
                    case .size: .badSize
                    default: .parameterValue
                    }
                    report(code, "default of \(what): \(error.message)", at: defaultNode.location(atOffset: error.offset), hint: error.hint)
                }
                if spec.type == nil, let value = spec.defaultValue { spec.type = Self.type(of: value) }
            }
            if spec.required && spec.defaultValue != nil {
                report(.invalidValue, "\(what) is required and has a default", at: node.location,
                       hint: "drop 'required: true' (the default makes it optional) or drop the default")
            }
            return spec
        }
    }

    func parameterSpecs(_ node: SourceNode?, _ what: String) -> [ParameterSpec] {
        guard let node else { return [] }
        guard let pairs = node.mapping else {
            report(.wrongType, "\(what) must be a mapping of names to declarations, found \(node.kindDescription)", at: node.location)
            return []
        }
        return pairs.compactMap { pair in
            checkIdentifier(pair.key, pair.keyNode, "parameter name")
            return parameterSpec(name: pair.key, pair.value)
        }
    }

    static func type(of value: ParameterValue) -> ParameterType {
        switch value {
        case .string: .string
        case .integer: .integer
        case .number: .number
        case .boolean: .boolean
        case .duration: .duration
        case .percentage: .percentage
        case .size: .size
        case .list: .list
        }
    }

    /// Names that become environment variables or are referenced from other files.
    func checkIdentifier(_ name: String, _ node: SourceNode, _ what: String,
                         why: String = "it becomes an environment variable of the shell step") {
        let scalars = Array(name.unicodeScalars)
        let valid = !scalars.isEmpty
            && (("a"..."z").contains(scalars[0]) || ("A"..."Z").contains(scalars[0]) || scalars[0] == "_")
            && scalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        if !valid {
            report(.invalidValue, "\(what) '\(name)' must be letters, digits and '_', starting with a letter", at: node.location,
                   hint: why)
        }
    }

    /// An id such as a playbook_id or rule name: `^[A-Za-z0-9][A-Za-z0-9._-]*$`.
    func checkID(_ id: String, _ node: SourceNode, _ what: String) -> Bool {
        let scalars = Array(id.unicodeScalars)
        func ok(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) }
        if let first = scalars.first, ok(first), scalars.allSatisfy({ ok($0) || $0 == "." || $0 == "_" || $0 == "-" }) { return true }
        report(.invalidValue, "\(what) '\(id)' must be letters, digits, '.', '_' and '-', starting with a letter or digit",
               at: node.location)
        return false
    }

    /// Shell text, located at its first character so a `${name}` fault gets its own line and column.
    func shellScript(_ node: SourceNode, _ what: String) -> ShellScript? {
        guard let text = string(node, what) else { return nil }
        var location = node.location
        if node.scalar?.style == .block, let line = location.line {
            let contentLine = line + 1
            location = SourceLocation(file: file, line: contentLine, column: (sourceIndent(ofLine: contentLine) ?? 0) + 1)
        } else if node.scalar?.style == .quoted {
            location = location.advanced(by: 1)
        }
        return ShellScript(text, location: location)
    }
}
