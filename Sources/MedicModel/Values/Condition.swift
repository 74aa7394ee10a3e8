/// A metric with optional label matchers: `disk_usage_percent{path="/var"}`.
public struct MetricSelector: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum MatchOperator: String, Sendable, Hashable, Codable {
        case equal = "=", notEqual = "!=", matches = "=~", notMatches = "!~"
    }

    public struct LabelMatcher: Sendable, Hashable, Codable {
        public var label: String
        public var op: MatchOperator
        public var value: String

        public init(label: String, op: MatchOperator, value: String) {
            self.label = label
            self.op = op
            self.value = value
        }
    }

    public var name: String
    public var matchers: [LabelMatcher]

    public init(name: String, matchers: [LabelMatcher] = []) {
        self.name = name
        self.matchers = matchers
    }

    /// Labels that must equal a value (the `=` matchers), e.g. `["path": "/var"]`.
    public var equalityLabels: [String: String] {
        Dictionary(matchers.filter { $0.op == .equal }.map { ($0.label, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    public var description: String {
        guard !matchers.isEmpty else { return name }
        let inner = matchers.map { "\($0.label)\($0.op.rawValue)\"\($0.value)\"" }.joined(separator: ",")
        return "\(name){\(inner)}"
    }
}

/// One side of a comparison.
public indirect enum Operand: Sendable, Hashable, Codable, CustomStringConvertible {
    case literal(Quantity)
    case string(String)
    case boolean(Bool)
    /// A metric, or a bare word compared as a symbol (`state == degraded`, `severity < SEV1`);
    /// the evaluator decides which from what its metric sources know.
    case reference(MetricSelector)
    case arithmetic(ArithmeticOperator, Operand, Operand)

    public enum ArithmeticOperator: String, Sendable, Hashable, Codable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"
    }

    /// Every metric or symbol the operand names.
    public var references: [MetricSelector] {
        switch self {
        case .reference(let m): [m]
        case .arithmetic(_, let a, let b): a.references + b.references
        case .literal, .string, .boolean: []
        }
    }

    public var description: String {
        switch self {
        case .literal(let q): q.description
        case .string(let s): "\"\(s)\""
        case .boolean(let b): b ? "true" : "false"
        case .reference(let m): m.description
        case .arithmetic(let op, let a, let b):
            "\(Self.side(a, of: op, right: false)) \(op.rawValue) \(Self.side(b, of: op, right: true))"
        }
    }

    /// A side of an arithmetic operand, in parentheses where the precedence would otherwise
    /// read it differently (`(a + b) * 2`, `a - (b - c)`), so the text parses back to the same tree.
    private static func side(_ operand: Operand, of op: ArithmeticOperator, right: Bool) -> String {
        guard case .arithmetic(let inner, _, _) = operand else { return operand.description }
        let binds = { (o: ArithmeticOperator) in o == .multiply || o == .divide ? 2 : 1 }
        let needs = binds(inner) < binds(op) || (right && binds(inner) == binds(op))
        return needs ? "(\(operand))" : operand.description
    }
}

/// A parsed condition expression (triggers, preconditions, verification, abort rules).
public indirect enum ConditionExpression: Sendable, Hashable, Codable, CustomStringConvertible {
    case comparison(Operand, ComparisonOperator, Operand)
    /// A lone operand: true when the value is truthy (`vip_customer_affected`).
    case truthy(Operand)
    case not(ConditionExpression)
    case all([ConditionExpression])
    case any([ConditionExpression])

    /// Every metric or symbol the expression names, in order of appearance.
    public var references: [MetricSelector] {
        switch self {
        case .comparison(let a, _, let b): a.references + b.references
        case .truthy(let a): a.references
        case .not(let e): e.references
        case .all(let es), .any(let es): es.flatMap(\.references)
        }
    }

    public var description: String {
        switch self {
        case .comparison(let a, let op, let b): "\(a) \(op.rawValue) \(b)"
        case .truthy(let a): a.description
        case .not(let e): "NOT (\(e))"
        case .all(let es): es.map { Self.group($0) }.joined(separator: " AND ")
        case .any(let es): es.map { Self.group($0) }.joined(separator: " OR ")
        }
    }

    private static func group(_ e: ConditionExpression) -> String {
        switch e {
        case .all, .any: "(\(e))"
        default: e.description
        }
    }
}

/// A condition as written, with its parsed form.
public struct Condition: Sendable, Hashable, Codable, CustomStringConvertible {
    public var source: String
    public var expression: ConditionExpression

    public init(source: String, expression: ConditionExpression) {
        self.source = source
        self.expression = expression
    }

    public static func parse(_ text: String) -> Result<Condition, ValueError> {
        var parser = ConditionParser(text)
        return parser.parse().map { Condition(source: text.trimmingSpaces, expression: $0) }
    }

    public var description: String { source }
}
