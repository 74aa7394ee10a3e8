/// A small cursor over the Unicode scalars of a value's text; offsets are scalar indices,
/// matching the columns libyaml reports.
struct UnitScanner {
    let scalars: [Unicode.Scalar]
    private(set) var position = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    var atEnd: Bool { position >= scalars.count }
    var current: Unicode.Scalar? { atEnd ? nil : scalars[position] }
    var rest: String { String(String.UnicodeScalarView(scalars[position...])) }

    mutating func skip(where predicate: (Unicode.Scalar) -> Bool) {
        while let c = current, predicate(c) { position += 1 }
    }

    mutating func consume(_ literal: String) -> Bool {
        let lit = Array(literal.unicodeScalars)
        guard position + lit.count <= scalars.count, Array(scalars[position..<position + lit.count]) == lit else {
            return false
        }
        position += lit.count
        return true
    }

    /// An unsigned decimal number such as `5`, `0.1`, `1_000`, `.5`, with an optional leading sign.
    mutating func number() -> Double? {
        let start = position
        var text = ""
        if let c = current, c == "-" || c == "+" {
            text.unicodeScalars.append(c)
            position += 1
        }
        var digits = 0
        var seenDot = false
        while let c = current {
            if c.properties.numericType == .decimal, c.isASCII {
                text.unicodeScalars.append(c)
                digits += 1
            } else if c == "_" && digits > 0 && position + 1 < scalars.count && scalars[position + 1].isASCIIDigit {
                // digit separator as in 1_000
            } else if c == "." && !seenDot && position + 1 < scalars.count && scalars[position + 1].isASCIIDigit {
                seenDot = true
                text.unicodeScalars.append(c)
            } else {
                break
            }
            position += 1
        }
        guard digits > 0, let value = Double(text) else {
            position = start
            return nil
        }
        return value
    }

    /// A run of ASCII letters.
    mutating func word() -> String {
        var text = ""
        while let c = current, c.isASCIILetter {
            text.unicodeScalars.append(c)
            position += 1
        }
        return text
    }
}

extension Unicode.Scalar {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isIdentifierStart: Bool { isASCIILetter || self == "_" }
    var isIdentifierContinue: Bool { isIdentifierStart || isASCIIDigit }
}

extension String {
    /// The text without leading and trailing spaces, tabs and line breaks (no Foundation here).
    public var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
