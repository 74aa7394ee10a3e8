import Foundation

/// A detector named on a command line with its `key=value` parameters (`medic detect --detector
/// ewma --param alpha=0.3`), written as a one-rule rules document so that the loader itself
/// checks it: the command line gets the rules file's defaults, ranges and messages.
public struct DetectorFlags: Sendable, Hashable {
    /// A parameter that is not `key=value`, a bad key, a key given twice, a line break.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The name the document's one rule has.
    public static let ruleName = "medic-detect"

    public var detector: String
    public var params: [String]

    public init(detector: String, params: [String]) {
        self.detector = detector
        self.params = params
    }

    /// The rules document: a rule `medic-detect` over the metric `series`, with this detector and
    /// its parameters. Numbers stay plain scalars; a YAML flow list or mapping (composite
    /// `components`) is passed as written; anything else is quoted.
    public func document() throws -> String {
        var entries: [String] = []
        var keys: Set<String> = []
        for param in params {
            guard let equals = param.firstIndex(of: "=") else {
                throw Failure(description: "--param '\(param)' is not key=value; for example --param window=60")
            }
            let key = String(param[..<equals]), value = String(param[param.index(after: equals)...])
            guard let first = key.first, first.isLetter || first == "_",
                  key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else { throw Failure(description: "--param '\(param)': '\(key)' is not a parameter name (letters, digits and _)") }
            guard keys.insert(key).inserted else { throw Failure(description: "--param \(key) is given twice") }
            guard !value.contains(where: \.isNewline) else { throw Failure(description: "--param \(key): the value has a line break") }
            entries.append("\(key): \(Self.yamlValue(value))")
        }
        var document = """
            rules:
              - name: \(Self.ruleName)
                metric: series
                severity: info
                detector: \(Self.quoted(detector))

            """
        if !entries.isEmpty { document += "    params: {\(entries.joined(separator: ", "))}\n" }
        return document
    }

    private static func yamlValue(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("[") || trimmed.hasPrefix("{") { return trimmed }
        let numeric = !trimmed.isEmpty && trimmed.allSatisfy { "0123456789+-._eE".contains($0) } && trimmed.contains(where: \.isNumber)
        return numeric ? trimmed : quoted(value)
    }

    /// A YAML double-quoted scalar (JSON string syntax, which YAML reads the same way).
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
