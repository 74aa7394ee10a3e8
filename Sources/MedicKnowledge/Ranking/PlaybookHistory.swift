import Foundation

/// What the incident history says of one playbook, for ranking (§6.2): the same counts as
/// `medic kb stats` (runs are attempted runs: every outcome but `refused`), plus when it last
/// succeeded.
public struct PlaybookTrackRecord: Sendable, Hashable, Codable {
    public var runs = 0
    public var successes = 0
    /// Sum of the attempted runs' execution times, seconds.
    public var totalExecutionTime = 0.0
    /// The end (`ended_at`) of its latest succeeded run.
    public var lastSuccess: Date?

    public init() {}

    public var successRate: Double? { runs == 0 ? nil : Double(successes) / Double(runs) }
    public var averageExecutionTime: Double? { runs == 0 ? nil : totalExecutionTime / Double(runs) }

    mutating func add(_ record: IncidentRecord) {
        guard record.runOutcome != .refused else { return }
        runs += 1
        totalExecutionTime += record.remediation.executionTime
        if record.runOutcome == .succeeded, let end = PlaybookHistory.date(record.endedAt) {
            lastSuccess = max(lastSuccess ?? end, end)
        }
        if record.runOutcome == .succeeded { successes += 1 }
    }
}

/// Each playbook's track record, read from the incident history of a `KnowledgeStore` and kept
/// up to date by reading only what was appended since the last `refresh()` (a running `medic
/// watch` ranks every incident without rereading the history). A line that is not an incident
/// record is skipped and counted; a torn last line is left for later (it is not complete yet, or
/// the store will quarantine it). A history that was replaced (a prune) is read again from its
/// start.
public final class PlaybookHistory: @unchecked Sendable {
    public let store: any KnowledgeStore
    private let lock = NSLock()
    private var position = KnowledgePosition.start
    private var records: [String: PlaybookTrackRecord] = [:]
    private var skipped = 0

    public init(store: any KnowledgeStore) {
        self.store = store
    }

    /// The history of the knowledge base directory `directory` (`FileKnowledgeStore`).
    public convenience init(knowledgeBase directory: String) {
        self.init(store: FileKnowledgeStore(directory: directory))
    }

    /// Reads what was appended since the last call; returns how many lines were skipped so far
    /// because they were not incident records. A history that cannot be read now is read on
    /// the next call; the records read so far stand.
    @discardableResult
    public func refresh() -> Int {
        lock.withLock {
            readAppended()
            return skipped
        }
    }

    /// The playbook's record as of the last `refresh()`; nil when it never ran.
    public func record(for playbookID: String) -> PlaybookTrackRecord? {
        lock.withLock { records[playbookID] }
    }

    /// Applies what was appended to a copy, kept only when the whole read succeeded: a read
    /// that fails part way is made again next time, never counted twice.
    private func readAppended() {
        var (working, workingSkipped) = (records, skipped)
        let decoder = JSONDecoder()
        let next = try? store.forEachLine(in: .incidentHistory, after: position, restarting: { (working, workingSkipped) = ([:], 0) }) { line in
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { return }
            let record = IncidentRecord(fastJSON: line) ?? (try? decoder.decode(IncidentRecord.self, from: Data(line)))
            guard let record else { workingSkipped += 1; return }
            working[record.remediation.playbookID, default: PlaybookTrackRecord()].add(record)
        }
        guard let next else { return }
        (records, skipped, position) = (working, workingSkipped, next)
    }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    static func date(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
    }
}
