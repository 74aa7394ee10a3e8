/// Finds `${name}` references and the variables a POSIX sh script assigns itself.
/// A lexical scan, not a shell parser: text in single quotes is skipped (the shell does not
/// expand it there), as are comments.
enum ShellVariables {
    struct Reference: Equatable {
        var name: String
        /// 0-based line within the script and scalar column within that line.
        var line: Int
        var column: Int
    }

    /// Context variables every step sees (docs/format.md, "Variables in shell text").
    static let contextNames: Set<String> = ["target", "PATH", "HOME", "USER", "TMPDIR", "PWD", "HOSTNAME", "IFS", "LANG", "SHELL"]

    static func isContext(_ name: String) -> Bool {
        contextNames.contains(name) || name.hasPrefix("MEDIC_") || name.hasPrefix("target_")
    }

    static func references(in script: String) -> [Reference] {
        var result: [Reference] = []
        for (lineNumber, line) in script.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let s = Array(line.unicodeScalars)
            var i = 0
            var inDouble = false
            while i < s.count {
                let c = s[i]
                if c == "\\" { i += 2; continue }
                if c == "\"" { inDouble.toggle(); i += 1; continue }
                if c == "'" && !inDouble {
                    i += 1
                    while i < s.count, s[i] != "'" { i += 1 }
                    i += 1
                    continue
                }
                if c == "#" && !inDouble && (i == 0 || s[i - 1] == " " || s[i - 1] == "\t") { break }
                if c == "$", i + 1 < s.count, s[i + 1] == "{" {
                    var j = i + 2
                    if j < s.count, s[j] == "#" || s[j] == "!" { j += 1 }
                    let start = j
                    while j < s.count, s[j].isNameCharacter(first: j == start) { j += 1 }
                    if j > start {
                        result.append(Reference(name: String(String.UnicodeScalarView(s[start..<j])), line: lineNumber, column: i))
                    }
                    i = j
                    continue
                }
                i += 1
            }
        }
        return result
    }

    /// Names the script assigns (`name=`, `export name=`, `local name`, `for name in`, `read name`).
    static func assigned(in script: String) -> Set<String> {
        var names: Set<String> = []
        let words = script.unicodeScalars.split(whereSeparator: { " \t\n;|&()`".unicodeScalars.contains($0) })
            .map { String(String.UnicodeScalarView($0)) }
        var previous = ""
        var inRead = false
        for word in words {
            if let eq = word.firstIndex(of: "="), eq != word.startIndex {
                let name = String(word[..<eq])
                if name.unicodeScalars.enumerated().allSatisfy({ $0.element.isNameCharacter(first: $0.offset == 0) }) {
                    names.insert(name)
                }
            }
            if previous == "for" || previous == "local" || previous == "export" || previous == "readonly" { names.insert(word) }
            if word == "read" { inRead = true } else if inRead {
                if word.hasPrefix("-") { previous = word; continue }
                if word.unicodeScalars.allSatisfy({ $0.isNameCharacter(first: false) }) { names.insert(word) } else { inRead = false }
            }
            previous = word
        }
        return names
    }
}

extension Unicode.Scalar {
    fileprivate func isNameCharacter(first: Bool) -> Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_" || (!first && ("0"..."9").contains(self))
    }
}
