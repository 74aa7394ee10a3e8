import MedicModel
import MedicText

/// JSON text -> `SourceNode` with line and column for every value (Foundation's JSON reader
/// gives no positions). Strict RFC 8259: no trailing commas, comments or single quotes.
/// Strings become quoted scalars and other values plain ones, so typing rules match YAML's.
/// `JSONCursor` reads the bytes; this builds the nodes and words each error where it is.
struct JSONDocumentParser {
    private let bytes: [UInt8]
    private let file: String
    private let limits: InputLimits

    init(text: String, file: String, limits: InputLimits) {
        self.bytes = Array(text.utf8)
        self.file = file
        self.limits = limits
    }

    mutating func parse() -> (SourceNode?, [Diagnostic]) {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONDocumentReader(cursor: JSONCursor(buffer), locator: JSONDocumentLocator(bytes: buffer), file: file, limits: limits)
            return reader.parse()
        }
    }
}

/// The 1-based line and column (in Unicode scalars) of byte offsets, counted on from the last
/// one asked for (node starts only move forward).
struct JSONDocumentLocator {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0, line = 1, column = 1

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func position(of target: Int) -> (line: Int, column: Int) {
        if target < offset { (offset, line, column) = (0, 1, 1) }
        while offset < min(target, bytes.count) {
            let byte = bytes[offset]
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            offset += 1
        }
        return (line, column)
    }
}

/// The parse itself, over the bytes for as long as `parse` runs.
struct JSONDocumentReader {
    var cursor: JSONCursor
    var locator: JSONDocumentLocator
    let file: String
    let limits: InputLimits
    var nodes = 0

    struct Failure: Error {
        var diagnostic: Diagnostic
    }

    var bytes: UnsafeBufferPointer<UInt8> { cursor.bytes }

    mutating func parse() -> (SourceNode?, [Diagnostic]) {
        do {
            cursor.skipWhitespace()
            let root = try value(depth: 1)
            cursor.skipWhitespace()
            if !cursor.atEnd { throw fail("unexpected text after the JSON value", hint: "a file holds one JSON object") }
            return (root, [])
        } catch let failure as Failure {
            return (nil, [failure.diagnostic])
        } catch {
            return (nil, [Diagnostic(.jsonSyntax, "\(error)", at: location(of: cursor.offset))])
        }
    }

    mutating func location(of offset: Int) -> SourceLocation {
        let (line, column) = locator.position(of: offset)
        return SourceLocation(file: file, line: line, column: column)
    }

    mutating func fail(_ message: String, hint: String? = nil, code: DiagnosticCode = .jsonSyntax, at offset: Int? = nil) -> Failure {
        Failure(diagnostic: Diagnostic(code, message, at: location(of: offset ?? cursor.offset), hint: hint))
    }

    /// The character at `offset` quoted, or "the end of the file".
    func describe(_ offset: Int) -> String {
        guard offset < bytes.count else { return "the end of the file" }
        var end = offset + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return "'\(String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<end]), as: UTF8.self))'"
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard cursor.take(byte) else { throw fail("expected \(what), found \(describe(cursor.offset))") }
    }

    static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- UInt8(ascii: "a") < 26 }
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    mutating func value(depth: Int) throws -> SourceNode {
        nodes += 1
        if depth > limits.maxDepth {
            throw fail("nesting deeper than \(limits.maxDepth) levels", hint: "Medic files nest at most \(limits.maxDepth) levels",
                       code: .nestingTooDeep)
        }
        if nodes > limits.maxNodes {
            throw fail("the document has more than \(limits.maxNodes) values", hint: "split it into smaller files", code: .aliasExpansion)
        }
        let start = location(of: cursor.offset)
        switch cursor.peek {
        case UInt8(ascii: "{"): return try object(depth: depth, start: start)
        case UInt8(ascii: "["): return try array(depth: depth, start: start)
        case UInt8(ascii: "\""): return SourceNode(content: .scalar(.init(text: try string(), style: .quoted)), location: start)
        case .some(let c) where c == UInt8(ascii: "-") || Self.isDigit(c):
            return SourceNode(content: .scalar(.init(text: try number(start: start), style: .plain)), location: start)
        case .some(let c) where Self.isLetter(c):
            let from = cursor.offset
            while let c = cursor.peek, Self.isLetter(c) { cursor.offset += 1 }
            let word = String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<cursor.offset]), as: UTF8.self)
            guard ["true", "false", "null"].contains(word) else {
                throw Failure(diagnostic: Diagnostic(.jsonSyntax, "'\(word)' is not a JSON value", at: start,
                                                     hint: "strings need double quotes"))
            }
            return SourceNode(content: .scalar(.init(text: word, style: .plain)), location: start)
        default:
            throw fail("expected a JSON value, found \(describe(cursor.offset))")
        }
    }

    mutating func object(depth: Int, start: SourceLocation) throws -> SourceNode {
        cursor.offset += 1
        var pairs: [SourceNode.Pair] = []
        var seen: [String: SourceLocation] = [:]
        cursor.skipWhitespace()
        if cursor.take(UInt8(ascii: "}")) { return SourceNode(content: .mapping([]), location: start) }
        while true {
            cursor.skipWhitespace()
            if cursor.peek == UInt8(ascii: "}") { throw fail("trailing comma before '}'", hint: "remove the comma after the last member") }
            let keyLocation = location(of: cursor.offset)
            guard cursor.peek == UInt8(ascii: "\"") else {
                throw fail("expected a member name in double quotes, found \(describe(cursor.offset))")
            }
            let key = try string()
            if let first = seen[key] {
                throw Failure(diagnostic: Diagnostic(.duplicateKey, "duplicate key '\(key)' (first at line \(first.line ?? 0))",
                                                     at: keyLocation, hint: "a key may appear once per object; merge the two entries"))
            }
            seen[key] = keyLocation
            cursor.skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after the member name")
            cursor.skipWhitespace()
            let member = try value(depth: depth + 1)
            let keyNode = SourceNode(content: .scalar(.init(text: key, style: .quoted)), location: keyLocation)
            pairs.append(.init(key: key, keyNode: keyNode, value: member))
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return SourceNode(content: .mapping(pairs), location: start)
        }
    }

    mutating func array(depth: Int, start: SourceLocation) throws -> SourceNode {
        cursor.offset += 1
        var items: [SourceNode] = []
        cursor.skipWhitespace()
        if cursor.take(UInt8(ascii: "]")) { return SourceNode(content: .sequence([]), location: start) }
        while true {
            cursor.skipWhitespace()
            if cursor.peek == UInt8(ascii: "]") { throw fail("trailing comma before ']'", hint: "remove the comma after the last element") }
            items.append(try value(depth: depth + 1))
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return SourceNode(content: .sequence(items), location: start)
        }
    }

    /// The number here: the run of number characters must be one JSON number, whole.
    mutating func number(start: SourceLocation) throws -> String {
        let from = cursor.offset
        var end = from
        while end < bytes.count, Self.isDigit(bytes[end]) || "+-.eE".utf8.contains(bytes[end]) { end += 1 }
        var check = JSONCursor(bytes, offset: from)
        let whole = (try? check.scanNumber()) != nil && check.offset == end
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<end]), as: UTF8.self)
        cursor.offset = end
        guard whole else {
            throw Failure(diagnostic: Diagnostic(.jsonSyntax, "'\(text)' is not a JSON number", at: start,
                                                 hint: "JSON numbers have no leading zeros, no '+', and a digit on both sides of a '.' (0.5, 2.0e3)"))
        }
        return text
    }
}
