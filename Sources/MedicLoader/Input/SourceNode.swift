import MedicModel

/// A node of a loaded document with its position: the one tree every decoder reads, whether the
/// file was YAML or JSON. Anchors are already expanded (within the node budget).
public struct SourceNode: Sendable {
    public enum ScalarStyle: Sendable, Equatable {
        /// Unquoted: YAML's implicit typing applies (`true`, `42`, `no`, `null`).
        case plain
        case quoted
        /// `|` or `>` blocks.
        case block
    }

    public struct Scalar: Sendable {
        public var text: String
        public var style: ScalarStyle
    }

    public struct Pair: Sendable {
        public var key: String
        public var keyNode: SourceNode
        public var value: SourceNode
    }

    public indirect enum Content: Sendable {
        case scalar(Scalar)
        case sequence([SourceNode])
        case mapping([Pair])
    }

    public var content: Content
    public var location: SourceLocation

    public var scalar: Scalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    public var sequence: [SourceNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var mapping: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// A plain scalar that YAML reads as null (`~`, `null`, nothing).
    public var isNull: Bool {
        guard let s = scalar, s.style == .plain else { return false }
        return s.text.isEmpty || s.text == "~" || s.text == "null" || s.text == "Null" || s.text == "NULL"
    }

    /// What the node is, in words, for "expected X, found Y" messages.
    public var kindDescription: String {
        switch content {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let s):
            if isNull { "nothing (null)" } else if s.style == .plain, PlainScalar.resolve(s.text) != .text, let type = ImplicitType.of(s.text) {
                type.description
            } else { "text '\(s.text.count > 40 ? String(s.text.prefix(40)) + "…" : s.text)'" }
        }
    }

    /// The location of the scalar offset `offset` inside this node's text, when it can be
    /// computed exactly (single-line scalars); otherwise the node's own location.
    public func location(atOffset offset: Int) -> SourceLocation {
        guard let s = scalar, s.style != .block, !s.text.contains("\n") else { return location }
        return location.advanced(by: offset + (s.style == .quoted ? 1 : 0))
    }
}

/// How a plain scalar is read where it is not text: by the YAML 1.2 core schema Medic types
/// values with (`PlainScalar`), or by a YAML 1.1 resolver (PyYAML, older libyaml tools), which
/// other programs reading the same file may use. A string is refused when either would read
/// something else, so every tool sees the same text.
public enum ImplicitType: Equatable, CustomStringConvertible {
    case boolean, yaml11Boolean, integer, octal, sexagesimal, float, null

    public var description: String {
        switch self {
        case .boolean, .yaml11Boolean: "a boolean"
        case .integer, .octal, .sexagesimal: "a number"
        case .float: "a number"
        case .null: "null"
        }
    }

    /// nil when both YAML 1.2 core and YAML 1.1 read the text as a string.
    public static func of(_ text: String) -> ImplicitType? {
        switch PlainScalar.resolve(text) {
        case .null: return .null
        case .boolean: return .boolean
        case .float: return .float
        case .integer:
            // YAML 1.1 reads 0755 as octal 493, YAML 1.2 core as 755.
            let digits = text.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
            return digits.count > 1 && digits.first == UInt8(ascii: "0") && digits.allSatisfy { (0x30...0x37).contains($0) }
                ? .octal : .integer
        case .text: return yaml11Reading(text)
        }
    }

    /// The YAML 1.1 forms that YAML 1.2 core reads as text: the booleans `yes` `no` `on` `off`
    /// `y` `n`, base-60 numbers (`1:30`), binary (`0b101`) and numbers with `_` (`1_000`).
    static func yaml11Reading(_ text: String) -> ImplicitType? {
        switch text {
        case "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N":
            return .yaml11Boolean
        default: break
        }
        let scalars = Array(text.unicodeScalars)
        var i = 0
        if let first = scalars.first, first == "-" || first == "+" { i = 1 }
        guard i < scalars.count, ("0"..."9").contains(scalars[i]) || scalars[i] == "." else { return nil }
        let body = scalars[i...]
        func allDigits(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
            !s.isEmpty && s.allSatisfy { ("0"..."9").contains($0) || $0 == "_" } && ("0"..."9").contains(s.first!)
        }
        if body.count > 2, body.first == "0", body.dropFirst().first == "b",
           body.dropFirst(2).allSatisfy({ $0 == "0" || $0 == "1" || $0 == "_" }) {
            return .integer
        }
        let colonParts = body.split(separator: ":", omittingEmptySubsequences: false)
        if colonParts.count > 1, colonParts.allSatisfy({ allDigits($0) }) { return .sexagesimal }
        if text.contains("_") {
            switch PlainScalar.resolve(text.replacingUnderscores) {
            case .integer: return .integer
            case .float: return .float
            default: return nil
            }
        }
        return nil
    }
}

extension String {
    var replacingUnderscores: String { String(unicodeScalars.filter { $0 != "_" }.map(Character.init)) }
}
