import Foundation
import MedicModel

/// How diagnostics are printed: for people, for scripts, for code-scanning tools.
public enum DiagnosticFormat: String, Sendable, CaseIterable {
    case text, json, sarif
}

public enum DiagnosticRenderer {
    /// `path:line:col: error[M101]: message` then `  hint: …`, one block per diagnostic.
    public static func text(_ diagnostics: [Diagnostic]) -> String {
        var out = ""
        for d in diagnostics {
            out += "\(d.location.description): \(d.severity.rawValue)[\(d.code.rawValue)]: \(d.message)\n"
            if let hint = d.hint { out += "  hint: \(hint)\n" }
        }
        return out
    }

    /// A JSON document: `{"diagnostics": [...], "summary": {...}}`.
    public static func json(_ diagnostics: [Diagnostic], files: Int) -> String {
        let items: [[String: Any]] = diagnostics.map { d in
            var item: [String: Any] = [
                "severity": d.severity.rawValue, "code": d.code.rawValue, "name": d.code.name, "message": d.message,
                "file": d.location.file,
            ]
            if let line = d.location.line { item["line"] = line }
            if let column = d.location.column { item["column"] = column }
            if let hint = d.hint { item["hint"] = hint }
            return item
        }
        let document: [String: Any] = [
            "diagnostics": items,
            "summary": [
                "files": files, "errors": diagnostics.filter { $0.severity == .error }.count,
                "warnings": diagnostics.filter { $0.severity == .warning }.count,
            ],
        ]
        return serialize(document)
    }

    /// SARIF 2.1.0, one run, the Medic codes as rules; locations relative to `baseDirectory`
    /// when given, so CI code-scanning can place them on the repository's files.
    public static func sarif(_ diagnostics: [Diagnostic], toolVersion: String, baseDirectory: String? = nil) -> String {
        let codes = DiagnosticCode.allCases
        let rules: [[String: Any]] = codes.map { code in
            [
                "id": code.rawValue, "name": code.name,
                "shortDescription": ["text": code.summary],
                "defaultConfiguration": ["level": level(code.defaultSeverity)],
            ]
        }
        let results: [[String: Any]] = diagnostics.map { d in
            var region: [String: Any] = [:]
            if let line = d.location.line { region["startLine"] = line }
            if let column = d.location.column { region["startColumn"] = column }
            var physical: [String: Any] = ["artifactLocation": ["uri": uri(d.location.file, base: baseDirectory)]]
            if !region.isEmpty { physical["region"] = region }
            var message = d.message
            if let hint = d.hint { message += " (hint: \(hint))" }
            return [
                "ruleId": d.code.rawValue, "ruleIndex": codes.firstIndex(of: d.code)!, "level": level(d.severity),
                "message": ["text": message], "locations": [["physicalLocation": physical]],
            ]
        }
        let document: [String: Any] = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [[
                "tool": ["driver": [
                    "name": "medic", "version": toolVersion,
                    "rules": rules,
                ]],
                "results": results,
            ]],
        ]
        return serialize(document)
    }

    private static func level(_ severity: DiagnosticSeverity) -> String {
        switch severity {
        case .error: "error"
        case .warning: "warning"
        case .note: "note"
        }
    }

    private static func uri(_ path: String, base: String?) -> String {
        var relative = path
        if let base, path.hasPrefix(base + "/") { relative = String(path.dropFirst(base.count + 1)) }
        if relative.hasPrefix("./") { relative.removeFirst(2) }
        return relative.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? relative
    }

    static func serialize(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8) else { return "{}" }
        return text + "\n"
    }
}
