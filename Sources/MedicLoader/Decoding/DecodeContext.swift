import MedicModel

/// Collects the diagnostics of one file while its tree is decoded, and reads typed values
/// from nodes. Every `read…` returns nil after reporting when the value is unusable, so
/// decoding goes on and all faults of a file are found in one pass.
final class DecodeContext {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []
    /// The file's bytes, kept for block scalars, whose faults are located by the indentation of
    /// their lines (libyaml gives the position of the indicator, not of the text).
    private let source: [UInt8]

    init(file: String, source: [UInt8] = []) {
        self.file = file
        self.source = source
    }

    /// Where each line starts, built on first use: only files with block scalars need it.
    private lazy var lineStarts: [Int] = [0] + source.indices.filter { source[$0] == UInt8(ascii: "\n") }.map { $0 + 1 }

    /// Leading spaces of a 1-based line of the source, when the source is known.
    func sourceIndent(ofLine line: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count else { return nil }
        return source[lineStarts[line - 1]...].prefix(while: { $0 == UInt8(ascii: " ") }).count
    }

    func report(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil) {
        diagnostics.append(Diagnostic(code, message, at: location, hint: hint))
    }

    // MARK: Scalars

    /// Text where a string is expected. A plain scalar YAML would read as a boolean, number or
    /// null is refused (M105), since other tools reading the same file would see that type.
    func string(_ node: SourceNode, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            report(.wrongType, "\(what) must be text, found \(node.kindDescription)", at: node.location)
            return nil
        }
        if scalar.style == .plain, let type = ImplicitType.of(scalar.text) {
            if type == .null {
                report(.wrongType, "\(what) must be text, found nothing (null)", at: node.location, hint: "write a value after the colon")
            } else {
                report(.implicitTyping, "\(what) '\(scalar.text)' is read as \(type.description), not text",
                       at: node.location, hint: "quote it: \"\(scalar.text)\"")
            }
            return nil
        }
        return scalar.text
    }

    /// Text, or a number or boolean taken as its text (for free-form values such as descriptions
    /// of a metadata map); only null and collections are refused.
    func text(_ node: SourceNode, _ what: String) -> String? {
        guard let scalar = node.scalar, !node.isNull else {
            report(.wrongType, "\(what) must be a single value, found \(node.kindDescription)", at: node.location)
            return nil
        }
        return scalar.text
    }

    func bool(_ node: SourceNode, _ what: String) -> Bool? {
        if let s = node.scalar, s.style == .plain {
            switch s.text {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default:
                if ImplicitType.of(s.text) == .yaml11Boolean {
                    let value = ["yes", "on", "y"].contains(s.text.lowercased())
                    report(.wrongType, "\(what) must be true or false, found '\(s.text)'", at: node.location,
                           hint: "write \(value); YAML 1.2 reads '\(s.text)' as text")
                    return nil
                }
            }
        }
        report(.wrongType, "\(what) must be true or false, found \(node.kindDescription)", at: node.location)
        return nil
    }

    /// A whole number as YAML 1.2 core reads one (`3`, `-1`, `0x1F`); `1_000` and `1:30` are
    /// text there, so they are refused with the spelling to use.
    func integer(_ node: SourceNode, _ what: String, min: Int? = nil, max: Int? = nil) -> Int? {
        guard let s = node.scalar, s.style == .plain, case .integer(let parsed) = PlainScalar.resolve(s.text) else {
            report(.wrongType, "\(what) must be a whole number, found \(node.kindDescription)", at: node.location,
                   hint: yaml11NumberHint(node))
            return nil
        }
        guard let value = parsed else {
            report(.outOfRange, "\(what) '\(s.text)' does not fit a 64-bit whole number", at: node.location)
            return nil
        }
        return checkRange(Double(value), node, what, min: min.map(Double.init), max: max.map(Double.init)) ? value : nil
    }

    /// A finite number as YAML 1.2 core reads one: an integer or a float (`0.94`, `1e-3`).
    func number(_ node: SourceNode, _ what: String, min: Double? = nil, max: Double? = nil) -> Double? {
        guard let s = node.scalar, s.style == .plain, let value = PlainScalar.resolve(s.text).numberValue else {
            report(.wrongType, "\(what) must be a number, found \(node.kindDescription)", at: node.location,
                   hint: yaml11NumberHint(node))
            return nil
        }
        guard value.isFinite else {
            report(.outOfRange, "\(what) must be a finite number, found '\(s.text)'", at: node.location)
            return nil
        }
        return checkRange(value, node, what, min: min, max: max) ? value : nil
    }

    /// For a plain scalar only YAML 1.1 reads as a number (`1_000`, `1:30`): how to write it.
    private func yaml11NumberHint(_ node: SourceNode) -> String? {
        guard let s = node.scalar, s.style == .plain, let type = ImplicitType.yaml11Reading(s.text), type != .yaml11Boolean else {
            return nil
        }
        return type == .sexagesimal ? "YAML 1.2 reads '\(s.text)' as text; write the number in decimal"
            : "YAML 1.2 reads '\(s.text)' as text; write it without '_': \(s.text.replacingUnderscores)"
    }

    private func checkRange(_ value: Double, _ node: SourceNode, _ what: String, min: Double?, max: Double?) -> Bool {
        if let min, value < min {
            report(.outOfRange, "\(what) must be at least \(Interval.trim(min)), found \(Interval.trim(value))", at: node.location)
            return false
        }
        if let max, value > max {
            report(.outOfRange, "\(what) must be at most \(Interval.trim(max)), found \(Interval.trim(value))", at: node.location)
            return false
        }
        return true
    }

    /// One of a fixed set of words, with a did-you-mean hint.
    func word<T>(_ node: SourceNode, _ what: String, _ choices: [String], code: DiagnosticCode = .invalidValue,
                 _ make: (String) -> T?) -> T? {
        guard let s = node.scalar, !node.isNull else {
            report(.wrongType, "\(what) must be one of \(choices.joined(separator: ", ")), found \(node.kindDescription)", at: node.location)
            return nil
        }
        if let value = make(s.text) { return value }
        // The message lists the choices; the hint adds only a close spelling, if there is one.
        let hint = Spelling.didYouMean(s.text, among: choices)
        report(code, "\(what) '\(s.text)' is not one of \(choices.joined(separator: ", "))", at: node.location, hint: hint)
        return nil
    }

    func enumValue<T: RawRepresentable & CaseIterable>(_ node: SourceNode, _ what: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        word(node, what, T.allCases.map(\.rawValue)) { T(rawValue: $0) }
    }

    func severity(_ node: SourceNode, _ what: String) -> Severity? {
        word(node, what, Severity.spellings, code: .unknownSeverity) { Severity(text: $0) }
    }

    func blastRadius(_ node: SourceNode, _ what: String) -> BlastRadius? {
        word(node, what, BlastRadius.spellings, code: .unknownBlastRadius) { BlastRadius(text: $0) }
    }

    // MARK: Values with units

    private func parsed<T>(_ node: SourceNode, _ what: String, _ code: DiagnosticCode,
                           _ parse: (String) -> Result<T, ValueError>) -> T? {
        guard let s = node.scalar, !node.isNull else {
            report(.wrongType, "\(what) must be a single value, found \(node.kindDescription)", at: node.location)
            return nil
        }
        switch parse(s.text) {
        case .success(let value): return value
        case .failure(let error):
            report(code, "\(what): \(error.message)", at: node.location(atOffset: error.offset), hint: error.hint)
            return nil
        }
    }

    /// A duration; a plain number (YAML or JSON, `300`, `1e3`) is seconds, as the core schema reads it.
    func duration(_ node: SourceNode, _ what: String) -> Interval? {
        if let s = node.scalar, s.style == .plain, let seconds = PlainScalar.resolve(s.text).numberValue {
            guard seconds.isFinite, seconds >= 0 else {
                report(.badDuration, "\(what): a duration must be a finite number of seconds, not negative, found '\(s.text)'",
                       at: node.location, hint: "write a length of time such as 5m")
                return nil
            }
            return Interval(seconds: seconds)
        }
        return parsed(node, what, .badDuration, Interval.parse)
    }

    func percentage(_ node: SourceNode, _ what: String, bareNumberAllowed: Bool = false) -> Percentage? {
        parsed(node, what, .badPercentage) { Percentage.parse($0, bareNumberAllowed: bareNumberAllowed) }
    }

    func size(_ node: SourceNode, _ what: String) -> ByteSize? {
        parsed(node, what, .badSize, ByteSize.parse)
    }

    func bound(_ node: SourceNode, _ what: String) -> Bound? {
        parsed(node, what, .badBound, Bound.parse)
    }

    func condition(_ node: SourceNode, _ what: String) -> Condition? {
        if let s = node.scalar, s.style == .plain, ImplicitType.of(s.text) == .null {
            report(.wrongType, "\(what) must be a condition, found nothing (null)", at: node.location,
                   hint: "write a condition such as disk_usage_percent > 85")
            return nil
        }
        return parsed(node, what, .badCondition, Condition.parse)
    }

    // MARK: Collections

    func list(_ node: SourceNode, _ what: String) -> [SourceNode]? {
        guard let items = node.sequence else {
            report(.wrongType, "\(what) must be a list, found \(node.kindDescription)", at: node.location)
            return nil
        }
        return items
    }

    func strings(_ node: SourceNode, _ what: String) -> [String]? {
        list(node, what)?.compactMap { string($0, "an item of \(what)") }
    }

    /// A list of free text items, the way the reference writes notes (`- on_call_engineer (phone)`).
    func texts(_ node: SourceNode, _ what: String) -> [String]? {
        list(node, what)?.compactMap { text($0, "an item of \(what)") }
    }

    func stringMap(_ node: SourceNode, _ what: String) -> [String: String]? {
        guard let pairs = node.mapping else {
            report(.wrongType, "\(what) must be a mapping, found \(node.kindDescription)", at: node.location)
            return nil
        }
        var result: [String: String] = [:]
        for pair in pairs {
            if let value = string(pair.value, "'\(pair.key)' in \(what)") { result[pair.key] = value }
        }
        return result
    }

    /// A mapping whose keys are checked against `known` (unknown ones reported, with did-you-mean).
    func fields(_ node: SourceNode, _ what: String, known: [String], extraKeysAllowed: Bool = false) -> Fields? {
        guard let pairs = node.mapping else {
            report(.wrongType, "\(what) must be a mapping, found \(node.kindDescription)", at: node.location)
            return nil
        }
        let fields = Fields(node: node, pairs: pairs, what: what, context: self)
        if !extraKeysAllowed {
            for pair in pairs where !known.contains(pair.key) {
                reportUnknownKey(pair, in: what, known: known)
            }
        }
        return fields
    }

    func reportUnknownKey(_ pair: SourceNode.Pair, in what: String, known: [String]) {
        let hint = Spelling.didYouMean(pair.key, among: known)
            ?? "known keys: \(known.filter { $0 != "$schema" }.joined(separator: ", "))"
        report(.unknownKey, "unknown key '\(pair.key)' in \(what)", at: pair.keyNode.location, hint: hint)
    }
}

/// The keys of one mapping, read by name.
struct Fields {
    let node: SourceNode
    let pairs: [SourceNode.Pair]
    let what: String
    let context: DecodeContext

    subscript(_ key: String) -> SourceNode? {
        pairs.first { $0.key == key }?.value
    }

    /// The value of a required key; reports M102 when it is missing.
    func required(_ key: String) -> SourceNode? {
        if let value = self[key] { return value }
        context.report(.missingKey, "missing required key '\(key)' in \(what)", at: node.location,
                       hint: "add '\(key):' to \(what)")
        return nil
    }

    func string(_ key: String, required: Bool = false) -> String? {
        guard let node = required ? self.required(key) : self[key] else { return nil }
        return context.string(node, "'\(key)'")
    }

    func text(_ key: String) -> String? { self[key].flatMap { context.text($0, "'\(key)'") } }
    func bool(_ key: String) -> Bool? { self[key].flatMap { context.bool($0, "'\(key)'") } }
    func integer(_ key: String, min: Int? = nil, max: Int? = nil) -> Int? {
        self[key].flatMap { context.integer($0, "'\(key)'", min: min, max: max) }
    }
    func number(_ key: String, min: Double? = nil, max: Double? = nil) -> Double? {
        self[key].flatMap { context.number($0, "'\(key)'", min: min, max: max) }
    }
    func duration(_ key: String) -> Interval? { self[key].flatMap { context.duration($0, "'\(key)'") } }
    func condition(_ key: String, required: Bool = false) -> Condition? {
        guard let node = required ? self.required(key) : self[key] else { return nil }
        return context.condition(node, "'\(key)'")
    }
    func strings(_ key: String) -> [String]? { self[key].flatMap { context.strings($0, "'\(key)'") } }
    func texts(_ key: String) -> [String]? { self[key].flatMap { context.texts($0, "'\(key)'") } }
    func enumValue<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, required: Bool = false) -> T?
    where T.RawValue == String {
        guard let node = required ? self.required(key) : self[key] else { return nil }
        return context.enumValue(node, "'\(key)'", type)
    }
}
