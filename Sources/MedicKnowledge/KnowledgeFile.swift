/// The files of the knowledge base (reference §9.3), by their names on disk.
///
/// All but one are JSON Lines (one record a line, appended); `root-causes.json` is one JSON document,
/// replaced whole. The records themselves (the §9.1 incident model, playbook performance …) are
/// not defined here: the store keeps raw JSON objects.
public enum KnowledgeFile: String, CaseIterable, Sendable {
    case incidentHistory = "incident-history.jsonl"
    case playbookPerformance = "playbook-performance.jsonl"
    case remediationEffectiveness = "remediation-effectiveness.jsonl"
    case incidentPatterns = "incident-patterns.jsonl"
    case rootCauses = "root-causes.json"
    /// What each carrying out of a remembered cure did (`ImmuneCureRecord`), one a line.
    case immuneCures = "immune-cures.jsonl"

    /// The file name inside the knowledge base directory.
    public var name: String { rawValue }

    /// Whether the file is JSON Lines (appended a record at a time).
    public var isJSONLines: Bool { self != .rootCauses }
}

/// An I/O fault of the knowledge base (a missing or read-only directory, a full disk) or a
/// record the store refuses (not a single-line JSON object). Nothing was written when it is thrown.
public struct KnowledgeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Something found while reading a file that the caller must hear about: a torn last line
/// (moved to the quarantine file) or a corrupt line (skipped). The rest of the file loaded.
public struct KnowledgeProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The last line had no newline: a write cut short by a crash.
        case tornLine = "torn_line"
        /// A line in the file that is not a JSON object.
        case corruptLine = "corrupt_line"
    }

    public var kind: Kind
    /// The path of the file read.
    public var path: String
    /// The 1-based line number in the file; 0 when not known (a torn line found by an append,
    /// which does not count the lines before it).
    public var line: Int
    public var message: String

    public init(kind: Kind, path: String, line: Int, message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}
