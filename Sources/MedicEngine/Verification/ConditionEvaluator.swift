import MedicModel

/// The outcome of evaluating a condition once.
public enum ConditionResult: Sendable, Hashable, Codable {
    /// The condition is true; `observed` lists the values read: `disk_usage_percent{path="/"}=72.5`.
    case holds(observed: String)
    /// The condition is false, with the values read.
    case fails(observed: String)
    /// The condition cannot be decided: a metric could not be read, text was ordered, ...
    case unknown(reason: String)
}

/// Evaluates conditions (`verification.check`, preconditions, triggers) against current metric
/// values.
///
/// - Before reading, `${name}` inside label values is replaced from the parameters, and a bare
///   reference whose whole name is a parameter (`replicas > min_replicas`) takes the parameter's
///   value (a number, with its unit's magnitude, when it reads as one; else text). A `${name}`
///   with no parameter makes the result unknown.
/// - Numbers compare by magnitude in base units (`80%` is 80, `5m` is 300, `100MB` is 1e8), so a
///   metric must be in those units (percent, seconds, bytes); a source's `scale` converts.
/// - Text compares with `==`/`!=` as text; text that reads as a number, or `true`/`yes`/`false`/
///   `no`, compares with a number as that number (1 or 0). Ordering two severities (`severity <
///   SEV1`) follows urgency; ordering other text is unknown.
/// - A bare word that no source has (`state == degraded`) is a symbol: text, when compared with
///   text. Compared with anything else, or tested alone, it is unknown, as is every reference
///   that fails to read for another reason (a source error).
/// - AND, OR and NOT use three-valued logic: false AND unknown is false, true OR unknown is
///   true, NOT unknown is unknown. Every operand is read (no short cut), each series once per
///   evaluation, so `observed` shows them all.
/// - A lone operand is true when it is a number other than 0, or text that reads as one, or the
///   text `true` or `yes`.
public struct ConditionEvaluator: Sendable {
    public let metrics: MetricRegistry

    public init(metrics: MetricRegistry) { self.metrics = metrics }

    public func evaluate(_ condition: Condition, parameters: [String: String] = [:]) async -> ConditionResult {
        var run = Evaluation(metrics: metrics, parameters: parameters)
        let truth = await run.truth(of: condition.expression)
        let observed = run.observed.joined(separator: ", ")
        switch truth {
        case .yes: return .holds(observed: observed)
        case .no: return .fails(observed: observed)
        case .unknown(let reasons): return .unknown(reason: reasons.joined(separator: "; "))
        }
    }
}

/// One evaluation: the values read so far, each series read once.
private struct Evaluation {
    enum Truth {
        case yes, no
        case unknown([String])
    }

    /// An operand's value: a number or text, a bare word nothing serves, or no value.
    enum Resolved {
        case value(MetricValue)
        case symbol(String, reason: String)
        case unknown([String])
    }

    let metrics: MetricRegistry
    let parameters: [String: String]
    var observed: [String] = []
    var cache: [MetricSelector: Resolved] = [:]

    init(metrics: MetricRegistry, parameters: [String: String]) {
        self.metrics = metrics
        self.parameters = parameters
    }

    mutating func truth(of expression: ConditionExpression) async -> Truth {
        switch expression {
        case .comparison(let a, let op, let b):
            return Self.compare(await resolve(a), op, await resolve(b))
        case .truthy(let a):
            switch await resolve(a) {
            case .value(.number(let n)): return n != 0 ? .yes : .no
            case .value(.text(let t)): return Self.number(fromText: t).map { $0 != 0 } ?? false ? .yes : .no
            case .symbol(_, let reason): return .unknown([reason])
            case .unknown(let reasons): return .unknown(reasons)
            }
        case .not(let inner):
            switch await truth(of: inner) {
            case .yes: return .no
            case .no: return .yes
            case .unknown(let reasons): return .unknown(reasons)
            }
        case .all(let items):
            var results: [Truth] = []
            for item in items { results.append(await truth(of: item)) }
            return Self.combine(results, decisive: .no)
        case .any(let items):
            var results: [Truth] = []
            for item in items { results.append(await truth(of: item)) }
            return Self.combine(results, decisive: .yes)
        }
    }

    /// AND (decisive false) or OR (decisive true) over three values.
    static func combine(_ results: [Truth], decisive: Truth) -> Truth {
        let decisiveIsYes = if case .yes = decisive { true } else { false }
        var reasons: [String] = []
        for result in results {
            switch result {
            case .yes where decisiveIsYes, .no where !decisiveIsYes: return decisive
            case .unknown(let r): reasons += r.filter { !reasons.contains($0) }
            default: break
            }
        }
        return reasons.isEmpty ? (decisiveIsYes ? .no : .yes) : .unknown(reasons)
    }

    mutating func resolve(_ operand: Operand) async -> Resolved {
        switch operand {
        case .literal(let q): return .value(.number(q.magnitude))
        case .string(let s): return .value(.text(s))
        case .boolean(let b): return .value(.number(b ? 1 : 0))
        case .reference(let selector): return await read(selector)
        case .arithmetic(let op, let a, let b):
            let lhs = await resolve(a), rhs = await resolve(b)
            switch (lhs, rhs) {
            case (.value(let x), .value(let y)):
                guard let x = Self.number(x), let y = Self.number(y) else {
                    return .unknown(["cannot compute \(x) \(op.rawValue) \(y): arithmetic needs numbers"])
                }
                switch op {
                case .add: return .value(.number(x + y))
                case .subtract: return .value(.number(x - y))
                case .multiply: return .value(.number(x * y))
                case .divide: return y == 0 ? .unknown(["division by zero in \(operand)"]) : .value(.number(x / y))
                }
            default:
                return .unknown(Self.reasons(lhs) + Self.reasons(rhs))
            }
        }
    }

    private mutating func read(_ written: MetricSelector) async -> Resolved {
        if written.matchers.isEmpty, let value = parameters[written.name] {
            return .value(Self.parameterValue(value))
        }
        var selector = written
        for index in selector.matchers.indices {
            switch substitute(selector.matchers[index].value) {
            case .success(let value): selector.matchers[index].value = value
            case .failure(let error): return .unknown([error.reason])
            }
        }
        if let known = cache[selector] { return known }
        let resolved: Resolved
        do {
            let value = try await metrics.value(of: selector)
            observed.append("\(selector)=\(value)")
            resolved = .value(value)
        } catch let error as MetricError where error.isMissing && selector.matchers.isEmpty {
            resolved = .symbol(selector.name, reason: error.description)
        } catch let error as MetricError {
            resolved = .unknown([error.description])
        } catch {
            resolved = .unknown(["\(selector): \(error)"])
        }
        cache[selector] = resolved
        return resolved
    }

    /// `${name}` replaced from the parameters; a name without a value is a failure.
    private func substitute(_ text: String) -> Result<String, SubstitutionError> {
        guard text.contains("${") else { return .success(text) }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return .success(out)
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = parameters[name] else {
                return .failure(SubstitutionError(reason: "parameter '\(name)' in '\(text)' has no value"))
            }
            out += value
            rest = rest[rest.index(after: end)...]
        }
        return .success(out + rest)
    }

    struct SubstitutionError: Error {
        var reason: String
    }

    // MARK: Values

    static func parameterValue(_ text: String) -> MetricValue {
        if let n = Double(text) { return .number(n) }
        if case .success(let q) = Quantity.parse(text) { return .number(q.magnitude) }
        return .text(text)
    }

    static func reasons(_ resolved: Resolved) -> [String] {
        switch resolved {
        case .value: []
        case .symbol(_, let reason): [reason]
        case .unknown(let reasons): reasons
        }
    }

    /// A number, or text that reads as one (`42`, `12%`, `true`/`yes` as 1, `false`/`no` as 0).
    static func number(_ value: MetricValue) -> Double? {
        switch value {
        case .number(let n): n
        case .text(let t): number(fromText: t)
        }
    }

    static func number(fromText text: String) -> Double? {
        switch text.lowercased() {
        case "true", "yes": return 1
        case "false", "no": return 0
        default:
            if let n = Double(text) { return n }
            if case .success(let q) = Quantity.parse(text) { return q.magnitude }
            return nil
        }
    }

    static func compare(_ lhs: Resolved, _ op: ComparisonOperator, _ rhs: Resolved) -> Truth {
        // A symbol is text next to text; anywhere else it stands for a metric nothing serves.
        func settled(_ side: Resolved, other: Resolved) -> Resolved {
            if case .symbol(let word, _) = side, case .value(.text) = other { return .value(.text(word)) }
            return side
        }
        guard case .value(let a) = settled(lhs, other: rhs), case .value(let b) = settled(rhs, other: lhs) else {
            let reasons = reasons(lhs) + reasons(rhs)
            return .unknown(reasons.isEmpty ? ["cannot compare \(op.rawValue) two symbols"] : reasons)
        }
        switch (a, b) {
        case (.number(let x), .number(let y)):
            return op.holds(x, y) ? .yes : .no
        case (.text(let x), .text(let y)):
            switch op {
            case .equal: return x == y ? .yes : .no
            case .notEqual: return x != y ? .yes : .no
            default:
                if let sx = Severity(text: x), let sy = Severity(text: y) {
                    // Urgency: SEV0 is the highest, so the raw values compare the other way round.
                    return op.holds(-Double(sx.rawValue), -Double(sy.rawValue)) ? .yes : .no
                }
                if let nx = Double(x), let ny = Double(y) { return op.holds(nx, ny) ? .yes : .no }
                return .unknown(["cannot order text \(a) \(op.rawValue) \(b)"])
            }
        default:
            if let x = number(a), let y = number(b) { return op.holds(x, y) ? .yes : .no }
            switch op {
            case .equal: return .no
            case .notEqual: return .yes
            default: return .unknown(["cannot order \(a) \(op.rawValue) \(b): one is text"])
            }
        }
    }
}
