import Foundation
import MedicModel

/// Targets given other than in the playbook: on the command line, or printed by a command.
public enum TargetSources {
    /// `--target NAME[,LABEL=VALUE...]`: `web-1,service=web,region=eu-west-1`.
    public static func parse(flag text: String) throws -> TargetSpec {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var target = try checkedName(parts[0], from: "--target '\(text)'")
        for part in parts.dropFirst() {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else {
                throw PlanError("--target '\(text)': '\(part)' is not LABEL=VALUE (write --target web-1,service=web,region=eu)")
            }
            target.labels[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        return target
    }

    /// Runs `command` with `sh -c` and reads the targets it prints: a JSON array (of names, or of
    /// `{"name": ..., "labels": {...}}`), or one target per line, `NAME [LABEL=VALUE ...]` (blank
    /// lines and `#` comments skipped). A command that fails, times out or prints no target is an error.
    public static func fromCommand(_ command: String, timeout: Double = 30, workingDirectory: String? = nil) async throws -> [TargetSpec] {
        let shell = ShellCommand(script: command, workingDirectory: workingDirectory, timeout: timeout, gracePeriod: 1,
                                 outputLimit: 8 << 20)
        let result: ShellResult
        do {
            result = try await ShellExecutor.output(of: shell, what: "the targets command")
        } catch let failure as HelperCommandFailure {
            throw PlanError(failure.description)
        }
        if result.stdoutTruncated { throw PlanError("the targets command printed more than 8 MiB") }
        // Its output was decoded with U+FFFD in place of bytes that are not UTF-8: a target
        // name or label so altered would be a different target.
        if result.stdout.unicodeScalars.contains("\u{FFFD}") {
            throw PlanError("the targets command printed text that is not valid UTF-8 (or U+FFFD); target names and labels must be UTF-8")
        }
        let targets = try parse(output: result.stdout)
        guard !targets.isEmpty else { throw PlanError("the targets command printed no target") }
        return targets
    }

    /// The targets in a command's output (see `fromCommand`).
    public static func parse(output: String) throws -> [TargetSpec] {
        let trimmed = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let items = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw PlanError("the targets command printed JSON that is not an array of names or {name, labels} objects")
            }
            return try items.enumerated().map { index, item in
                if let name = item as? String { return try checkedName(name, from: "item \(index + 1) of the targets command's JSON") }
                guard let object = item as? [String: Any], let name = object["name"] as? String else {
                    throw PlanError("item \(index + 1) of the targets command's JSON is neither a name nor an object with a \"name\"")
                }
                var target = try checkedName(name, from: "item \(index + 1) of the targets command's JSON")
                for (key, value) in object["labels"] as? [String: Any] ?? [:] {
                    target.labels[key] = (value as? String) ?? "\(value)"
                }
                return target
            }
        }
        var targets: [TargetSpec] = []
        for (index, line) in output.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            var target = try checkedName(first, from: "line \(index + 1) of the targets command's output")
            for word in words.dropFirst() {
                guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                    throw PlanError("line \(index + 1) of the targets command's output: '\(word)' is not LABEL=VALUE")
                }
                target.labels[String(word[..<eq])] = String(word[word.index(after: eq)...])
            }
            targets.append(target)
        }
        return targets
    }

    /// Medic never expands a wildcard into every host, wherever the name comes from.
    static func checkedName(_ name: String, from origin: String) throws -> TargetSpec {
        guard !name.isEmpty, !name.contains("*"), !name.contains("?"), name != "all",
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PlanError("\(origin): '\(name)' is not a target name (no wildcards, 'all' or control characters)")
        }
        return TargetSpec(name: name)
    }
}
