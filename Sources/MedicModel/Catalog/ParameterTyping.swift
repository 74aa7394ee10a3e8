extension ParameterSpec {
    /// Types a value as written against this declaration: the declared type, else the type the
    /// text looks like; then the enum. Used for defaults, step values and `--param k=v`.
    public func accept(_ raw: StepArgument.RawValue) -> Result<ParameterValue, ValueError> {
        let value: ParameterValue
        switch Self.typed(raw, as: type) {
        case .success(let v): value = v
        case .failure(let e): return .failure(e)
        }
        if let allowed = allowedValues {
            let text = value.description
            // `enum: [300s, 600s]` for a duration: compare what the words mean, not how they are spelt.
            let typedAllowed = allowed.compactMap { try? Self.typed(.scalar($0, quoted: false), as: type).get() }
            guard allowed.contains(text) || typedAllowed.contains(value) else {
                let hint = Spelling.didYouMean(text, among: allowed)
                    ?? "one of: \(allowed.joined(separator: ", "))"
                return .failure(ValueError("'\(text)' is not one of \(allowed.joined(separator: ", "))", hint: hint))
            }
        }
        return .success(value)
    }

    public static func typed(_ raw: StepArgument.RawValue, as type: ParameterType?) -> Result<ParameterValue, ValueError> {
        switch raw {
        case .map:
            return .failure(ValueError("a mapping is not a parameter value", hint: "give a single value or a list"))
        case .list(let items):
            guard type == nil || type == .list else {
                return .failure(ValueError("expected a single \(type!.rawValue) value, found a list"))
            }
            var values: [ParameterValue] = []
            for item in items {
                switch typed(item, as: nil) {
                case .success(let v): values.append(v)
                case .failure(let e): return .failure(e)
                }
            }
            return .success(.list(values))
        case .scalar(let text, let quoted):
            guard let type else { return .success(inferred(text, quoted: quoted)) }
            switch type {
            case .string: return .success(.string(text))
            case .list: return .success(.list([inferred(text, quoted: quoted)]))
            case .integer:
                guard !quoted, let i = PlainScalar.resolve(text).integerValue else {
                    return .failure(ValueError("'\(text)' is not a whole number"))
                }
                return .success(.integer(i))
            case .number:
                guard !quoted, let d = PlainScalar.resolve(text).numberValue, d.isFinite else {
                    return .failure(ValueError("'\(text)' is not a number"))
                }
                return .success(.number(d))
            case .boolean:
                if quoted { return .failure(ValueError("'\(text)' is quoted text, not true or false", hint: "remove the quotes")) }
                guard case .boolean(let b) = PlainScalar.resolve(text) else {
                    return .failure(ValueError("'\(text)' is not true or false", hint: "write true or false"))
                }
                return .success(.boolean(b))
            case .duration: return Interval.parse(text).map { .duration($0) }
            case .percentage: return Percentage.parse(text, bareNumberAllowed: true).map { .percentage($0) }
            case .size: return ByteSize.parse(text).map { .size($0) }
            }
        }
    }

    /// The type a scalar looks like: `true` boolean, `300` integer, `1e3` number, `300s` duration, `5%`
    /// percentage, `100MB` size, otherwise text. Quoting makes `"true"` and `"300"` text, but a
    /// value with a unit (`"7_days"`) is the same quoted or not, as JSON has no other spelling.
    public static func inferred(_ text: String, quoted: Bool) -> ParameterValue {
        if !quoted {
            // Typed by the YAML 1.2 core schema, as the loader types every plain value.
            switch PlainScalar.resolve(text) {
            case .boolean(let b): return .boolean(b)
            case .integer(let i?): return .integer(i)
            case .float(let d) where d.isFinite: return .number(d)
            default: break
            }
        }
        // Values with units read the same quoted or not: JSON can only write them as strings.
        if let first = text.unicodeScalars.first, ("0"..."9").contains(first),
           text.unicodeScalars.contains(where: { $0 == "%" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) }) {
            if case .success(let p) = Percentage.parse(text) { return .percentage(p) }
            if case .success(let d) = Interval.parse(text) { return .duration(d) }
            if case .success(let s) = ByteSize.parse(text) { return .size(s) }
        }
        return .string(text)
    }
}
