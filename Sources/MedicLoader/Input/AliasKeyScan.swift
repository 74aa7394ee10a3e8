/// A lexical pre-scan for aliases used as mapping keys, run before Yams composes the document.
///
/// Why: Yams checks for duplicate keys by hashing every key node, and hashing an alias hashes its
/// whole expansion, so a few lines of nested aliases used as keys take exponential time before any
/// budget of ours can run. Medic files never need an alias (or a collection) as a key, so any
/// `*alias:` or `? *alias`, and any `[..]:` / `{..}:` key in a file that uses aliases, is refused.
/// Block scalar bodies, quoted text and comments are skipped.
enum AliasKeyScan {
    static func firstAliasKey(in text: String) -> (line: Int, column: Int)? {
        // Fast path: an alias needs an anchor (`&name` at the start of a token); most files have none.
        guard hasAnchor(text) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var usesAliases = false
        var complexKey: (Int, Int)?
        var blockIndent: Int?  // inside a block scalar whose parent line has this indent
        var quote: Unicode.Scalar?  // inside a quoted scalar spanning lines
        for (number, rawLine) in lines.enumerated() {
            let line = Array(rawLine.unicodeScalars)
            let indent = line.prefix(while: { $0 == " " }).count
            if let parent = blockIndent {
                if line.allSatisfy({ $0 == " " || $0 == "\r" }) || indent > parent { continue }
                blockIndent = nil
            }
            var i = 0
            var lastSignificant: Unicode.Scalar?
            var beforeLast: Unicode.Scalar?
            while i < line.count {
                let c = line[i]
                if let q = quote {
                    if c == "\\" && q == "\"" { i += 2; continue }
                    if c == q {
                        if q == "'" && i + 1 < line.count && line[i + 1] == "'" { i += 2; continue }
                        quote = nil
                        lastSignificant = c
                    }
                    i += 1
                    continue
                }
                let atTokenStart = i == 0 || " \t[{,".unicodeScalars.contains(line[i - 1])
                if c == "#" && (i == 0 || line[i - 1] == " " || line[i - 1] == "\t") { break }
                if (c == "\"" || c == "'") && atTokenStart {
                    quote = c
                    i += 1
                    continue
                }
                if c == "*" && atTokenStart {
                    var j = i + 1
                    while j < line.count, !" \t,[]{}".unicodeScalars.contains(line[j]) { j += 1 }
                    if j > i + 1 {
                        usesAliases = true
                        var k = j
                        while k < line.count, line[k] == " " { k += 1 }
                        let explicitKey = beforeLast == nil && lastSignificant == "?"
                        if explicitKey || (k < line.count && line[k] == ":" && (k + 1 == line.count || " \t,]}".unicodeScalars.contains(line[k + 1]))) {
                            return (number + 1, i + 1)
                        }
                        i = j
                        continue
                    }
                }
                if (c == "]" || c == "}") && complexKey == nil {
                    var k = i + 1
                    while k < line.count, line[k] == " " { k += 1 }
                    if k < line.count, line[k] == ":" { complexKey = (number + 1, i + 1) }
                }
                if c != " " && c != "\t" {
                    beforeLast = lastSignificant
                    lastSignificant = c
                }
                i += 1
            }
            // A block scalar header ends the line: `key: |`, `- >-`, `key: |2`.
            if quote == nil, let headerEnd = Self.blockHeader(line) { _ = headerEnd; blockIndent = indent }
        }
        return usesAliases ? complexKey : nil
    }

    /// Whether an anchor indicator `&` starts a token anywhere (a byte scan; `&&` in shell text
    /// and `a&b` inside words are not anchors, a false positive only costs the full scan).
    static func hasAnchor(_ text: String) -> Bool {
        var previous: UInt8 = UInt8(ascii: " ")
        var anchorStart = false
        for byte in text.utf8 {
            if anchorStart {
                if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "&") && byte != UInt8(ascii: "\n") { return true }
                anchorStart = false
            }
            if byte == UInt8(ascii: "&") && (previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\n")
                || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",")) {
                anchorStart = true
            }
            previous = byte
        }
        return false
    }

    /// Whether the line ends with a block scalar indicator (`|`, `>`, with optional modifiers).
    private static func blockHeader(_ line: [Unicode.Scalar]) -> Int? {
        var end = line.count
        if let hash = Self.commentStart(line) { end = hash }
        while end > 0, line[end - 1] == " " || line[end - 1] == "\t" || line[end - 1] == "\r" { end -= 1 }
        var start = end
        while start > 0, "|>-+0123456789".unicodeScalars.contains(line[start - 1]) { start -= 1 }
        guard start < end, line[start] == "|" || line[start] == ">" else { return nil }
        guard start == 0 || line[start - 1] == " " else { return nil }
        return end
    }

    private static func commentStart(_ line: [Unicode.Scalar]) -> Int? {
        for i in line.indices where line[i] == "#" && (i == 0 || line[i - 1] == " ") { return i }
        return nil
    }
}
