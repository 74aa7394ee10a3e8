import Foundation
import MedicText

/// The watermark of `medic kb update`: how far into `incident-history.jsonl` the last update
/// read. A small JSON document, `kb-update-state.json` in the knowledge base, replaced
/// atomically after the derived files are written.
public struct KnowledgeUpdateState: Sendable, Equatable, Codable {
    public static let fileName = "kb-update-state.json"
    public static let version = 1

    public var v: Int
    public var updatedAt: String
    /// The line number of the last incident record read (the history only grows).
    public var incidentLines: Int
    /// That record's incident id and timestamp.
    public var lastIncidentID: String
    public var lastIncidentTimestamp: String

    public init(updatedAt: String, incidentLines: Int, lastIncidentID: String, lastIncidentTimestamp: String) {
        v = Self.version
        self.updatedAt = updatedAt
        self.incidentLines = incidentLines
        self.lastIncidentID = lastIncidentID
        self.lastIncidentTimestamp = lastIncidentTimestamp
    }

    enum CodingKeys: String, CodingKey {
        case v
        case updatedAt = "updated_at"
        case incidentLines = "incident_lines"
        case lastIncidentID = "last_incident_id"
        case lastIncidentTimestamp = "last_incident_timestamp"
    }

    /// Whether the history read now ends where it ended at the last update.
    func covers(lines: Int, lastIncidentID: String) -> Bool {
        incidentLines == lines && self.lastIncidentID == lastIncidentID
    }
}

/// What `KnowledgeBase.update(at:configuration:)` did.
public struct KnowledgeUpdateSummary: Sendable, Equatable {
    /// False when there was no incident since the last update (nothing was written).
    public var updated: Bool
    /// Incident records read.
    public var incidents: Int
    /// What was derived (appended and written), when updated.
    public var derivation: KnowledgeDerivation?
    public var state: KnowledgeUpdateState?
    /// Lines of the history skipped (torn, corrupt, not an incident record).
    public var problems: [KnowledgeProblem]

    public init(updated: Bool, incidents: Int, derivation: KnowledgeDerivation?, state: KnowledgeUpdateState?,
                problems: [KnowledgeProblem]) {
        self.updated = updated
        self.incidents = incidents
        self.derivation = derivation
        self.state = state
        self.problems = problems
    }
}

extension KnowledgeBase {
    public var updateStatePath: String { (directory as NSString).appendingPathComponent(KnowledgeUpdateState.fileName) }

    /// The watermark of the last `update`, nil when there was none.
    public func updateState() throws -> KnowledgeUpdateState? {
        try readJSONDocument(KnowledgeUpdateState.self, at: updateStatePath, what: "the update state")
    }

    /// Derives the §9.3 files from the incident history at `now` (§9.4's daily aggregation): appends
    /// one `playbook-performance.jsonl` snapshot per playbook, one `remediation-effectiveness.jsonl`
    /// line per (playbook, category) and one `incident-patterns.jsonl` line per pattern, replaces
    /// `root-causes.json` atomically, then the watermark. Appends nothing and changes nothing when
    /// the history ends where it ended at the last update (or is empty). The JSONL files are only
    /// ever appended to. A crash before the watermark is written makes the next update append its
    /// snapshots again (history with one extra snapshot, never a lost one).
    @discardableResult
    public func update(at now: Date, configuration: KnowledgeUpdateConfiguration = KnowledgeUpdateConfiguration()) throws
        -> KnowledgeUpdateSummary {
        var builder = KnowledgeUpdateBuilder(now: now, configuration: configuration)
        var count = 0, lastLine = 0
        var last: IncidentRecord?
        let problems = try forEachIncident { record, line in
            builder.add(record)
            count += 1
            lastLine = line
            last = record
        }
        guard let last else {
            return KnowledgeUpdateSummary(updated: false, incidents: 0, derivation: nil, state: nil, problems: problems)
        }
        let previous = try updateState()
        if let previous, previous.covers(lines: lastLine, lastIncidentID: last.incidentID) {
            return KnowledgeUpdateSummary(updated: false, incidents: count, derivation: nil, state: previous, problems: problems)
        }
        let derivation = builder.result()
        try appendBatch(encoding: derivation.performance, to: .playbookPerformance)
        try appendBatch(encoding: derivation.effectiveness, to: .remediationEffectiveness)
        try appendBatch(encoding: derivation.patterns, to: .incidentPatterns)
        try replaceDocument(try Self.documentBytes(derivation.rootCauses), of: .rootCauses)
        let state = KnowledgeUpdateState(updatedAt: Timestamp.text(now), incidentLines: lastLine,
                                         lastIncidentID: last.incidentID, lastIncidentTimestamp: last.timestamp)
        try Self.replaceAtomically(try Self.documentBytes(state), at: updateStatePath)
        return KnowledgeUpdateSummary(updated: true, incidents: count, derivation: derivation, state: state, problems: problems)
    }

    // MARK: - Reading the derived files back

    /// Every snapshot of `playbook-performance.jsonl`, oldest first, with the problems found.
    public func playbookPerformance() throws -> (records: [PlaybookPerformance], problems: [KnowledgeProblem]) {
        try read(PlaybookPerformance.self, from: .playbookPerformance)
    }

    /// Every line of `remediation-effectiveness.jsonl`, oldest first.
    public func remediationEffectiveness() throws -> (records: [RemediationEffectiveness], problems: [KnowledgeProblem]) {
        try read(RemediationEffectiveness.self, from: .remediationEffectiveness)
    }

    /// Every line of `incident-patterns.jsonl`, oldest first.
    public func incidentPatterns() throws -> (records: [IncidentPattern], problems: [KnowledgeProblem]) {
        try read(IncidentPattern.self, from: .incidentPatterns)
    }

    /// The root-cause library, nil when no update wrote one. Throws naming the file when it is
    /// not one.
    public func rootCauseLibrary() throws -> RootCauseLibrary? {
        try readJSONDocument(RootCauseLibrary.self, at: path(.rootCauses), what: "the root-cause library")
    }

    private func readJSONDocument<Document: Decodable>(_ type: Document.Type, at path: String, what: String) throws -> Document? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KnowledgeError("cannot read \(what) \(path): \(Self.reason(error))")
        }
        do {
            return try JSONDecoder().decode(Document.self, from: bytes)
        } catch {
            throw KnowledgeError("\(what) \(path) is not valid (\(Self.reason(error))); it was left as it is")
        }
    }

    private static func documentBytes(_ document: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(document)) + [UInt8(ascii: "\n")]
        } catch {
            throw KnowledgeError("cannot encode \(type(of: document)): \(error)")
        }
    }
}
