import MedicModel

/// JSON text -> `SourceNode` with line and column for every value (Foundation's JSON reader
/// gives no positions). Strict RFC 8259: no trailing commas, comments or single quotes.
/// Strings become quoted scalars and other values plain ones, so typing rules match YAML's.
struct JSONDocumentParser {
    private let scalars: [Unicode.Scalar]
    private let file: String
    private let limits: InputLimits
    private var index = 0
    private var line = 1
    private var column = 1
    private var nodes = 0

    private struct Failure: Error {
        var diagnostic: Diagnostic
    }

    init(text: String, file: String, limits: InputLimits) {
        self.scalars = Array(text.unicodeScalars)
        self.file = file
        self.limits = limits
    }

    mutating func parse() -> (SourceNode?, [Diagnostic]) {
        do {
            skipWhitespace()
            let root = try value(depth: 1)
            skipWhitespace()
            if index < scalars.count { throw fail("unexpected text after the JSON value", hint: "a file holds one JSON object") }
            return (root, [])
        } catch let failure as Failure {
            return (nil, [failure.diagnostic])
        } catch {
            return (nil, [Diagnostic(.jsonSyntax, "\(error)", at: here)])
        }
    }

    private var here: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    private func fail(_ message: String, hint: String? = nil, code: DiagnosticCode = .jsonSyntax) -> Failure {
        Failure(diagnostic: Diagnostic(code, message, at: here, hint: hint))
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func advance() {
        if scalars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let c = current, c == " " || c == "\n" || c == "\t" || c == "\r" { advance() }
    }

    private mutating func expect(_ c: Unicode.Scalar, _ what: String) throws {
        guard current == c else { throw fail("expected \(what), found \(describeCurrent)") }
        advance()
    }

    private var describeCurrent: String {
        guard let c = current else { return "the end of the file" }
        return "'\(c)'"
    }

    private mutating func value(depth: Int) throws -> SourceNode {
        nodes += 1
        if depth > limits.maxDepth {
            throw fail("nesting deeper than \(limits.maxDepth) levels", hint: "Medic files nest at most \(limits.maxDepth) levels",
                       code: .nestingTooDeep)
        }
        if nodes > limits.maxNodes {
            throw fail("the document has more than \(limits.maxNodes) values", hint: "split it into smaller files", code: .aliasExpansion)
        }
        let start = here
        switch current {
        case "{": return try object(depth: depth, start: start)
        case "[": return try array(depth: depth, start: start)
        case "\"": return SourceNode(content: .scalar(.init(text: try string(), style: .quoted)), location: start)
        case .some(let c) where c == "-" || c.isASCIIDigit:
            return SourceNode(content: .scalar(.init(text: try number(), style: .plain)), location: start)
        case .some(let c) where c.isASCIILetter:
            var word = ""
            while let c = current, c.isASCIILetter {
                word.unicodeScalars.append(c)
                advance()
            }
            guard ["true", "false", "null"].contains(word) else {
                throw Failure(diagnostic: Diagnostic(.jsonSyntax, "'\(word)' is not a JSON value", at: start,
                                                     hint: "strings need double quotes"))
            }
            return SourceNode(content: .scalar(.init(text: word, style: .plain)), location: start)
        default:
            throw fail("expected a JSON value, found \(describeCurrent)")
        }
    }

    private mutating func object(depth: Int, start: SourceLocation) throws -> SourceNode {
        advance()
        var pairs: [SourceNode.Pair] = []
        var seen: [String: SourceLocation] = [:]
        skipWhitespace()
        if current == "}" {
            advance()
            return SourceNode(content: .mapping([]), location: start)
        }
        while true {
            skipWhitespace()
            if current == "}" { throw fail("trailing comma before '}'", hint: "remove the comma after the last member") }
            let keyLocation = here
            guard current == "\"" else { throw fail("expected a member name in double quotes, found \(describeCurrent)") }
            let key = try string()
            if let first = seen[key] {
                throw Failure(diagnostic: Diagnostic(.duplicateKey, "duplicate key '\(key)' (first at line \(first.line ?? 0))",
                                                     at: keyLocation, hint: "a key may appear once per object; merge the two entries"))
            }
            seen[key] = keyLocation
            skipWhitespace()
            try expect(":", "':' after the member name")
            skipWhitespace()
            let member = try value(depth: depth + 1)
            let keyNode = SourceNode(content: .scalar(.init(text: key, style: .quoted)), location: keyLocation)
            pairs.append(.init(key: key, keyNode: keyNode, value: member))
            skipWhitespace()
            if current == "," { advance(); continue }
            try expect("}", "',' or '}'")
            return SourceNode(content: .mapping(pairs), location: start)
        }
    }

    private mutating func array(depth: Int, start: SourceLocation) throws -> SourceNode {
        advance()
        var items: [SourceNode] = []
        skipWhitespace()
        if current == "]" {
            advance()
            return SourceNode(content: .sequence([]), location: start)
        }
        while true {
            skipWhitespace()
            if current == "]" { throw fail("trailing comma before ']'", hint: "remove the comma after the last element") }
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == "," { advance(); continue }
            try expect("]", "',' or ']'")
            return SourceNode(content: .sequence(items), location: start)
        }
    }

    private mutating func string() throws -> String {
        advance()
        var text = ""
        var length = 0
        while let c = current, c != "\"" {
            if c.value < 0x20 { throw fail("control character in a string", hint: "escape it, e.g. \\n") }
            if c == "\\" {
                advance()
                guard let e = current else { break }
                switch e {
                case "\"", "\\", "/": text.unicodeScalars.append(e)
                case "b": text.unicodeScalars.append("\u{08}")
                case "f": text.unicodeScalars.append("\u{0C}")
                case "n": text.unicodeScalars.append("\n")
                case "r": text.unicodeScalars.append("\r")
                case "t": text.unicodeScalars.append("\t")
                case "u":
                    var code: UInt32 = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard current == "\\" else { throw fail("unpaired surrogate in \\u escape") }
                        advance()
                        guard current == "u" else { throw fail("unpaired surrogate in \\u escape") }
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        text.unicodeScalars.append(Unicode.Scalar(code)!)
                        continue
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    text.unicodeScalars.append(scalar)
                    continue
                default: throw fail("invalid escape '\\\(e)'")
                }
                advance()
            } else {
                text.unicodeScalars.append(c)
                advance()
            }
            length += 1
            if length > limits.maxScalarLength {
                throw fail("a string over the limit of \(limits.maxScalarLength) characters", code: .scalarTooLong)
            }
        }
        guard current == "\"" else { throw fail("unterminated string") }
        advance()
        return text
    }

    /// Reads the four hex digits after `\u` (the `u` is current).
    private mutating func hex4() throws -> UInt32 {
        advance()
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current, let digit = c.properties.numericType != nil ? UInt32(String(c)) : hexLetter(c) else {
                throw fail("expected four hex digits after \\u")
            }
            code = code * 16 + digit
            advance()
        }
        return code
    }

    private func hexLetter(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "a"..."f": c.value - 87
        case "A"..."F": c.value - 55
        default: nil
        }
    }

    private mutating func number() throws -> String {
        let start = here
        var text = ""
        while let c = current, c.isASCIIDigit || "+-.eE".unicodeScalars.contains(c) {
            text.unicodeScalars.append(c)
            advance()
        }
        guard JSONNumberGrammar.matches(text) else {
            throw Failure(diagnostic: Diagnostic(.jsonSyntax, "'\(text)' is not a JSON number", at: start,
                                                 hint: "JSON numbers have no leading zeros, no '+', and a digit on both sides of a '.' (0.5, 2.0e3)"))
        }
        return text
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
