import MedicModel

/// A playbook's own `trigger: {condition, duration}`, which acts as a rule with no rules file:
/// its rule is named `trigger:<playbook id>` (a name no rules file can use), has the playbook's
/// severity, starts the playbook, and holds for the trigger's `duration` (Prometheus `for:`).
///
/// What a condition may say (anything else is rejected with the reason, see `RuleEngine.rejected`):
/// - **one comparison of a metric with a number**, `metric{labels} OP number` or
///   `number OP metric{labels}` (OP: `>` `>=` `<` `<=` `==` `!=`; the number may have a unit:
///   `85%` is 85, `500ms` is 0.5, `3GB` is 3e9 — the series must be in that base unit), or a
///   lone metric (`metric`, true when not 0). This is a `threshold` rule over every series the
///   selector matches, one incident per series, exactly as a rules file would write it.
/// - **AND / OR / NOT** of such comparisons, evaluated whenever a sample of a referenced metric
///   arrives, over the latest value of each series its selectors match: a comparison holds when
///   at least one matching series' latest value satisfies it. A value older than the engine's
///   `lookback` (5 minutes) no longer counts; a comparison with no current value is unknown, and
///   unknown makes AND and OR unknown unless decided by the other side (false AND unknown is
///   false, true OR unknown is true), NOT unknown is unknown; the condition holds only when it
///   is true. The whole condition is one series with one incident (keyed by the rule name),
///   whose labels and value are those of the sample that made it fire.
/// - Not supported: comparing two metrics (`a > b`), arithmetic (`a / b > 0.5`), text or
///   `true`/`false` operands (`state == degraded`), multiples of a baseline (`> 2x`).
public struct PlaybookTrigger: Sendable, Hashable {
    public var playbookID: String
    public var trigger: Trigger
    public var severity: Severity
    public var location: SourceLocation

    public init(playbookID: String, trigger: Trigger, severity: Severity, location: SourceLocation = SourceLocation(file: "")) {
        self.playbookID = playbookID
        self.trigger = trigger
        self.severity = severity
        self.location = location
    }

    /// The playbook's trigger; nil when it has none.
    public init?(_ playbook: Playbook) {
        guard let trigger = playbook.trigger else { return nil }
        self.init(playbookID: playbook.id, trigger: trigger, severity: playbook.severity, location: playbook.location)
    }

    /// The triggers of every playbook that has one, in order.
    public static func all(in playbooks: [Playbook]) -> [PlaybookTrigger] {
        playbooks.compactMap(PlaybookTrigger.init)
    }

    /// `trigger:<playbook id>`.
    public var ruleName: String { "trigger:\(playbookID)" }

    /// The trigger as a `threshold` anomaly rule when its condition is one comparison of a
    /// metric with a number; nil when it is compound (AND / OR / NOT); the reason when it cannot
    /// be evaluated at all.
    public func thresholdRule() -> Result<AnomalyRule?, RuleRejection> {
        switch TriggerCondition.compile(trigger.condition.expression) {
        case .failure(let reason):
            return .failure(RuleRejection(rule: ruleName, reason: "condition '\(trigger.condition.source)': \(reason.reason)", location: location))
        case .success(let compiled):
            guard case .atom(let index) = compiled.root else { return .success(nil) }
            let atom = compiled.comparisons[index]
            return .success(AnomalyRule(
                name: ruleName, metric: atom.selector, detector: .threshold(op: atom.op, value: atom.bound),
                sustain: trigger.duration, severity: severity, playbook: playbookID, location: location))
        }
    }
}

/// A trigger condition reduced to comparisons of a metric with a number, joined by AND, OR, NOT.
struct TriggerCondition: Sendable {
    struct Comparison: Sendable {
        var selector: MetricSelector
        var op: ComparisonOperator
        var bound: Quantity
    }

    indirect enum Node: Sendable {
        case atom(Int)
        case not(Node)
        case all([Node])
        case any([Node])
    }

    var root: Node
    var comparisons: [Comparison]

    struct Unsupported: Error {
        var reason: String
    }

    static func compile(_ expression: ConditionExpression) -> Result<TriggerCondition, Unsupported> {
        var comparisons: [Comparison] = []
        func node(_ e: ConditionExpression) throws(Unsupported) -> Node {
            switch e {
            case .comparison(let lhs, let op, let rhs):
                comparisons.append(try comparison(lhs, op, rhs))
                return .atom(comparisons.count - 1)
            case .truthy(.reference(let selector)):
                comparisons.append(Comparison(selector: selector, op: .notEqual, bound: .number(0)))
                return .atom(comparisons.count - 1)
            case .truthy(let operand):
                throw Unsupported(reason: "'\(operand)' is not a metric; a condition compares a metric with a number")
            case .not(let inner): return .not(try node(inner))
            case .all(let items): return .all(try items.map { e throws(Unsupported) in try node(e) })
            case .any(let items): return .any(try items.map { e throws(Unsupported) in try node(e) })
            }
        }
        do {
            let root = try node(expression)
            return .success(TriggerCondition(root: root, comparisons: comparisons))
        } catch {
            return .failure(error)
        }
    }

    private static func comparison(_ lhs: Operand, _ op: ComparisonOperator, _ rhs: Operand) throws(Unsupported) -> Comparison {
        let text = "'\(lhs) \(op.rawValue) \(rhs)'"
        switch (lhs, rhs) {
        case (.reference(let selector), .literal(let q)):
            return Comparison(selector: selector, op: op, bound: try bound(q, text))
        case (.literal(let q), .reference(let selector)):
            return Comparison(selector: selector, op: op.mirrored, bound: try bound(q, text))
        case (.reference, .reference):
            throw Unsupported(reason: "\(text) compares two metrics or words; the rule engine compares a metric with a number")
        case (.arithmetic, _), (_, .arithmetic):
            throw Unsupported(reason: "\(text) uses arithmetic, which the rule engine does not evaluate; compare one metric with a number")
        case (.string, _), (_, .string), (.boolean, _), (_, .boolean):
            throw Unsupported(reason: "\(text) compares with text or true/false; the rule engine compares a metric with a number")
        case (.literal, .literal):
            throw Unsupported(reason: "\(text) compares two numbers; name the metric to watch")
        }
    }

    private static func bound(_ q: Quantity, _ text: String) throws(Unsupported) -> Quantity {
        if case .multiplier = q {
            throw Unsupported(reason: "\(text): a multiple such as 2x is relative to a baseline, which a trigger does not have")
        }
        guard q.magnitude.isFinite else { throw Unsupported(reason: "\(text): the number is out of range") }
        return q
    }
}

extension ComparisonOperator {
    /// The operator with its sides swapped: `85 < x` is `x > 85`.
    var mirrored: ComparisonOperator {
        switch self {
        case .greater: .less
        case .greaterOrEqual: .lessOrEqual
        case .less: .greater
        case .lessOrEqual: .greaterOrEqual
        case .equal, .notEqual: self
        }
    }
}
