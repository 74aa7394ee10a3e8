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
            if isNull { "nothing (null)" } else if s.style == .plain, let type = ImplicitType.of(s.text) {
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

/// How YAML 1.1 / 1.2 resolvers would read a plain scalar, where that is not a string.
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

    /// nil when every YAML resolver reads the text as a string.
    public static func of(_ text: String) -> ImplicitType? {
        // Fast path: text starting with a letter other than those of true/false/yes/no/on/off/
        // null/y/n, or with a character no number starts with, is text for every resolver.
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "~"),
             UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "y"), UInt8(ascii: "Y"),
             UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            break
        default:
            return nil
        }
        if text.utf8.count > 40 { return nil }
        switch text {
        case "true", "True", "TRUE", "false", "False", "FALSE": return .boolean
        case "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
             "y", "Y", "n", "N":
            return .yaml11Boolean
        case "", "~", "null", "Null", "NULL": return .null
        case ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN": return .float
        default: break
        }
        let scalars = Array(text.unicodeScalars)
        var i = 0
        if scalars[0] == "-" || scalars[0] == "+" { i = 1 }
        guard i < scalars.count else { return nil }
        let body = scalars[i...]
        func allDigits(_ s: ArraySlice<Unicode.Scalar>) -> Bool {
            !s.isEmpty && s.allSatisfy { ("0"..."9").contains($0) || $0 == "_" } && ("0"..."9").contains(s.first!)
        }
        if body.count > 2, body.first == "0", let x = body.dropFirst().first, x == "x" || x == "o" || x == "b" {
            return .integer
        }
        if allDigits(body) {
            return body.count > 1 && body.first == "0" && body.allSatisfy({ ("0"..."7").contains($0) || $0 == "_" })
                ? .octal : .integer
        }
        // Sexagesimal (YAML 1.1): 1:30, 1:30:00
        let colonParts = body.split(separator: ":", omittingEmptySubsequences: false)
        if colonParts.count > 1, colonParts.allSatisfy({ allDigits($0) }) { return .sexagesimal }
        if Double(String(String.UnicodeScalarView(body)).replacingUnderscores) != nil,
           body.contains(where: { ("0"..."9").contains($0) }) {
            return .float
        }
        return nil
    }
}

extension String {
    var replacingUnderscores: String { String(unicodeScalars.filter { $0 != "_" }.map(Character.init)) }
}
