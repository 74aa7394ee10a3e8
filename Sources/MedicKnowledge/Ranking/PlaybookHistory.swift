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

/// Each playbook's track record, read from `incident-history.jsonl` and kept up to date by
/// reading only what was appended since the last `refresh()` (a running `medic watch` ranks every
/// incident without rereading the history). A line that is not an incident record is skipped
/// and counted; a torn last line is left for later (it is not complete yet, or the store will
/// quarantine it). A file that shrank (replaced, cut) is read again from its start.
public final class PlaybookHistory: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var offset: UInt64 = 0
    private var records: [String: PlaybookTrackRecord] = [:]
    private var skipped = 0

    public init(knowledgeBase directory: String) {
        path = (directory as NSString).appendingPathComponent(KnowledgeFile.incidentHistory.rawValue)
    }

    /// Reads what was appended since the last call; returns how many lines were skipped so far
    /// because they were not incident records.
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

    private func readAppended() {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { (offset, records, skipped) = (0, [:], 0) }
            return
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let size = UInt64(info.st_size)
        if size < offset { (offset, records, skipped) = (0, [:], 0) }
        guard size > offset else { return }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var position = offset
        let decoder = JSONDecoder()
        while position < size {
            let want = Int(min(UInt64(buffer.count), size - position))
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(position)) }
            guard got > 0 else { break }
            let chunkStart = position
            position += UInt64(got)
            var start = 0
            for i in 0..<got where buffer[i] == UInt8(ascii: "\n") {
                if pending.isEmpty {
                    take(buffer[start..<i], decoder)
                } else {
                    pending += buffer[start..<i]
                    take(pending[...], decoder)
                    pending.removeAll(keepingCapacity: true)
                }
                // Complete lines only: a line still being written is read again next time.
                offset = chunkStart + UInt64(i + 1)
                start = i + 1
            }
            pending += buffer[start..<got]
        }
    }

    private func take(_ line: ArraySlice<UInt8>, _ decoder: JSONDecoder) {
        guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { return }
        let record = IncidentRecord(fastJSON: line) ?? (try? decoder.decode(IncidentRecord.self, from: Data(line)))
        guard let record else { skipped += 1; return }
        records[record.remediation.playbookID, default: PlaybookTrackRecord()].add(record)
    }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    static func date(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
    }
}
