/// Recursive-descent parser for the condition language (docs/format.md, "Conditions").
/// Depth is bounded so that no input can exhaust the stack.
struct ConditionParser {
    private enum Token: Equatable {
        case identifier(String)
        case number(String)
        case string(String)
        case op(String)
        case end
    }

    private let scalars: [Unicode.Scalar]
    private var tokens: [(token: Token, offset: Int)] = []
    private var index = 0
    /// For each `(` token, the index of the `)` that closes it (nil when none does).
    private var closing: [Int: Int] = [:]
    private var depth = 0
    /// Levels of `NOT` and parentheses a condition may nest (docs/format.md).
    static let maxNesting = 32

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    mutating func parse() -> Result<ConditionExpression, ValueError> {
        do {
            tokens = try tokenize()
            closing = Self.closingParentheses(tokens.map(\.token))
            guard tokens.count > 1 else { throw ValueError("empty condition", hint: "write a condition such as disk_usage_percent > 85") }
            let expression = try parseOr()
            guard case .end = peek else {
                throw ValueError("unexpected \(describe(peek)) in condition", offset: offsetHere,
                                 hint: "join comparisons with AND / OR, e.g. cpu_usage > 90% AND load1 > 4")
            }
            return .success(expression)
        } catch let error as ValueError {
            return .failure(error)
        } catch {
            return .failure(ValueError("\(error)"))
        }
    }

    // MARK: Grammar

    private mutating func parseOr() throws -> ConditionExpression {
        var items = [try parseAnd()]
        while isKeyword(["OR", "or", "||"]) {
            index += 1
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .any(items)
    }

    private mutating func parseAnd() throws -> ConditionExpression {
        var items = [try parseNot()]
        while isKeyword(["AND", "and", "&&"]) {
            index += 1
            items.append(try parseNot())
        }
        return items.count == 1 ? items[0] : .all(items)
    }

    private mutating func parseNot() throws -> ConditionExpression {
        if isKeyword(["NOT", "not", "!"]) {
            try enterNesting()
            defer { depth -= 1 }
            index += 1
            return .not(try parseNot())
        }
        // `(a + b) * 2 > c` groups arithmetic: a parenthesis followed by an operator starts an operand.
        if peek == .op("("), !groupsArithmetic(at: index) {
            try enterNesting()
            defer { depth -= 1 }
            let open = offsetHere
            index += 1
            let inner = try parseOr()
            guard peek == .op(")") else {
                throw ValueError("missing ')' for the '(' at column offset \(open + 1)", offset: offsetHere)
            }
            index += 1
            return inner
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws -> ConditionExpression {
        let lhs = try parseOperand()
        if case .op(let text) = peek, let op = ComparisonOperator(rawValue: text) {
            index += 1
            let rhs = try parseOperand()
            if case .op(let next) = peek, ComparisonOperator(rawValue: next) != nil {
                throw ValueError("comparisons cannot be chained", offset: offsetHere, hint: "join two comparisons with AND")
            }
            return .comparison(lhs, op, rhs)
        }
        if peek == .op("=") {
            throw ValueError("'=' is not a comparison", offset: offsetHere, hint: "use == to compare")
        }
        return .truthy(lhs)
    }

    private mutating func enterNesting() throws {
        depth += 1
        guard depth <= Self.maxNesting else {
            throw ValueError("condition nested too deeply (more than \(Self.maxNesting) levels of NOT and parentheses)", offset: offsetHere)
        }
    }

    /// Whether the `(` at token `at` encloses arithmetic: its `)` is followed by an arithmetic or
    /// comparison operator.
    private func groupsArithmetic(at position: Int) -> Bool {
        guard let close = closing[position], close + 1 < tokens.count, case .op(let next) = tokens[close + 1].token else { return false }
        return ["+", "-", "*", "/"].contains(next) || ComparisonOperator(rawValue: next) != nil
    }

    private static func closingParentheses(_ tokens: [Token]) -> [Int: Int] {
        var open: [Int] = []
        var result: [Int: Int] = [:]
        for (position, token) in tokens.enumerated() {
            if token == .op("(") { open.append(position) }
            if token == .op(")"), let start = open.popLast() { result[start] = position }
        }
        return result
    }

    /// `a + b * 2` is `a + (b * 2)`: products bind tighter than sums, and both group left to
    /// right (`a - b - c` is `(a - b) - c`); parentheses group otherwise.
    private mutating func parseOperand() throws -> Operand {
        var lhs = try parseProduct()
        while case .op(let text) = peek, text == "+" || text == "-", let op = Operand.ArithmeticOperator(rawValue: text) {
            index += 1
            lhs = .arithmetic(op, lhs, try parseProduct())
        }
        return lhs
    }

    private mutating func parseProduct() throws -> Operand {
        var lhs = try parseTerm()
        while case .op(let text) = peek, text == "*" || text == "/", let op = Operand.ArithmeticOperator(rawValue: text) {
            index += 1
            lhs = .arithmetic(op, lhs, try parseTerm())
        }
        return lhs
    }

    private mutating func parseTerm() throws -> Operand {
        let offset = offsetHere
        switch peek {
        case .number(let text):
            index += 1
            switch Quantity.parse(text) {
            case .success(let q): return .literal(q)
            case .failure(var e):
                e.offset += offset
                throw e
            }
        case .string(let text):
            index += 1
            return .string(text)
        case .op("("):
            try enterNesting()
            defer { depth -= 1 }
            index += 1
            let inner = try parseOperand()
            guard peek == .op(")") else {
                throw ValueError("missing ')' for the '(' at column offset \(offset + 1)", offset: offsetHere)
            }
            index += 1
            return inner
        case .op("-"):
            index += 1
            // One sign, on a number: the grammar's `["-"] number`, and no recursion a long run of signs could exhaust.
            guard case .number = peek, case .literal(let q) = try parseTerm() else {
                throw ValueError("'-' must be followed by a number", offset: offset)
            }
            return .literal(q.negated)
        case .identifier(let name) where !["AND", "OR", "NOT", "and", "or", "not"].contains(name):
            index += 1
            if name == "true" || name == "false" { return .boolean(name == "true") }
            return .reference(MetricSelector(name: name, matchers: try parseMatchers()))
        default:
            throw ValueError("expected a metric or a value, found \(describe(peek))", offset: offset,
                             hint: "a comparison looks like metric > 85, metric{label=\"v\"} < 10s")
        }
    }

    private mutating func parseMatchers() throws -> [MetricSelector.LabelMatcher] {
        guard peek == .op("{") else { return [] }
        index += 1
        var matchers: [MetricSelector.LabelMatcher] = []
        while peek != .op("}") {
            guard case .identifier(let label) = peek else {
                throw ValueError("expected a label name, found \(describe(peek))", offset: offsetHere,
                                 hint: "label matchers look like {path=\"/var\", mode!=\"ro\"}")
            }
            index += 1
            let opOffset = offsetHere
            guard case .op(let opText) = peek, let op = MetricSelector.MatchOperator(rawValue: opText == "==" ? "=" : opText) else {
                throw ValueError("expected =, !=, =~ or !~ after label '\(label)'", offset: opOffset)
            }
            index += 1
            let value: String
            switch peek {
            case .string(let s): value = s
            case .identifier(let s), .number(let s): value = s
            default: throw ValueError("expected a quoted label value, found \(describe(peek))", offset: offsetHere)
            }
            index += 1
            matchers.append(.init(label: label, op: op, value: value))
            if peek == .op(",") { index += 1; continue }
            guard peek == .op("}") else {
                throw ValueError("expected ',' or '}' in label matchers, found \(describe(peek))", offset: offsetHere)
            }
        }
        index += 1
        return matchers
    }

    // MARK: Tokens

    private var peek: Token { tokens[min(index, tokens.count - 1)].token }
    private var offsetHere: Int { tokens[min(index, tokens.count - 1)].offset }

    private func isKeyword(_ words: [String]) -> Bool {
        switch peek {
        case .identifier(let w): words.contains(w)
        case .op(let o): words.contains(o)
        default: false
        }
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .identifier(let s): "'\(s)'"
        case .number(let s): "'\(s)'"
        case .string(let s): "\"\(s)\""
        case .op(let s): "'\(s)'"
        case .end: "the end of the condition"
        }
    }

    private func tokenize() throws -> [(token: Token, offset: Int)] {
        var result: [(token: Token, offset: Int)] = []
        var i = 0
        let twoChar: Set<String> = [">=", "<=", "==", "!=", "=~", "!~", "&&", "||"]
        while i < scalars.count {
            let c = scalars[i]
            if c.properties.isWhitespace { i += 1; continue }
            let start = i
            if c.isASCIIDigit || (c == "." && i + 1 < scalars.count && scalars[i + 1].isASCIIDigit) {
                // A number runs on through its unit: 0.1%, 500ms, 30_days, 100MB, 2x.
                while i < scalars.count, scalars[i].isIdentifierContinue || scalars[i] == "." || scalars[i] == "%" { i += 1 }
                result.append((.number(text(start, i)), start))
            } else if c.isIdentifierStart {
                while i < scalars.count, scalars[i].isIdentifierContinue || scalars[i] == "." { i += 1 }
                result.append((.identifier(text(start, i)), start))
            } else if c == "\"" || c == "'" {
                i += 1
                var value = ""
                while i < scalars.count, scalars[i] != c {
                    if scalars[i] == "\\", i + 1 < scalars.count { i += 1 }
                    value.unicodeScalars.append(scalars[i])
                    i += 1
                }
                guard i < scalars.count else { throw ValueError("unterminated string", offset: start) }
                i += 1
                result.append((.string(value), start))
            } else if i + 1 < scalars.count, twoChar.contains(text(i, i + 2)) {
                result.append((.op(text(i, i + 2)), start))
                i += 2
            } else if "<>()!{},=+-*/".unicodeScalars.contains(c) {
                result.append((.op(String(c)), start))
                i += 1
            } else {
                throw ValueError("unexpected character '\(c)' in condition", offset: start)
            }
        }
        // Bare operators after a comparison operator that form a longer run (>>, <<) are faults.
        for (n, item) in result.enumerated() where n > 0 {
            if case .op(let a) = result[n - 1].token, case .op(let b) = item.token,
               ComparisonOperator(rawValue: a) != nil, ComparisonOperator(rawValue: b) != nil {
                throw ValueError("'\(a)\(b)' is not a comparison operator", offset: result[n - 1].offset,
                                 hint: "operators: > >= < <= == !=")
            }
        }
        result.append((.end, scalars.count))
        return result
    }

    private func text(_ from: Int, _ to: Int) -> String {
        String(String.UnicodeScalarView(scalars[from..<to]))
    }
}
