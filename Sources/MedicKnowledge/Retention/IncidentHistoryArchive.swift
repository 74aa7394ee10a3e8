import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Moves old incident records out of `incident-history.jsonl` (`medic prune`), crash-safely.
///
/// Archived records go to a segment `<archive>/incident-history.until-<newest timestamp>.jsonl`,
/// their lines byte for byte. The order makes every moment of a kill safe, and the next prune
/// (`recover`) finishes the job:
/// 1. the segment is written as `<segment>.pending` (temporary file, `fsync`, rename, directory `fsync`);
/// 2. the statistics of the records that go are added to `PrunedIncidentLedger`, marked with
///    the inode of the replacement history written beside it (they count once it is in place);
/// 3. the history is replaced by the kept lines (temporary file, `fsync`, rename, directory
///    `fsync`), under the writers' `flock` so no append falls in between (an appender that
///    opened the old file writes to the new one, `LineAppender.isCurrent`);
/// 4. the ledger's entry is unmarked, and `<segment>.pending` is renamed to `<segment>`.
/// A `.pending` segment whose records are still in the history was left before 3: it is
/// removed. One whose records are gone from the history was left after 3: it is completed. So
/// each record is in the history or in a segment, exactly once, and its figures count once, from
/// the history or from the ledger. With `delete`, steps 2 to 4 run without a segment: the
/// records are gone for good, their figures kept.
///
/// Callers hold `<state-dir>/archive/prune.lock` so that two prunes never run at once.
public struct IncidentHistoryArchive: Sendable {
    public let knowledgeDirectory: String
    public let archiveDirectory: String

    public init(knowledgeDirectory: String, archiveDirectory: String) {
        self.knowledgeDirectory = knowledgeDirectory
        self.archiveDirectory = archiveDirectory
    }

    /// What a prune of the history did, or would do.
    public struct Outcome: Sendable, Equatable {
        /// Records moved (or removed) and records left.
        public var pruned = 0
        public var kept = 0
        /// The segment they went to (nil with `delete`, or when nothing was pruned).
        public var segment: String?
    }

    public var historyPath: String { knowledgeDirectory + "/" + KnowledgeFile.incidentHistory.name }
    var replacementPath: String { knowledgeDirectory + "/." + KnowledgeFile.incidentHistory.name + ".pruning" }
    var ledger: PrunedIncidentLedger { PrunedIncidentLedger(knowledgeDirectory: knowledgeDirectory) }

    /// Finishes what a prune killed part-way left: each `.pending` segment is completed or
    /// removed (above), and a half-written replacement of the history is removed. Returns one
    /// sentence per thing done (or, with `dryRun`, that would be done).
    public func recover(dryRun: Bool) throws -> [String] {
        // The ledger first: a marked entry is judged against the history in place, before the
        // replacement a kill left (whose inode it may carry) is removed.
        var done = try ledger.recover(dryRun: dryRun)
        if FileManager.default.fileExists(atPath: replacementPath) {
            done.append("remove \(replacementPath) (a replacement of the history a killed prune did not finish)")
            if !dryRun { unlink(replacementPath) }
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: archiveDirectory)) ?? []).sorted()
        for name in names where name.hasSuffix(".tmp") {
            done.append("remove \(archiveDirectory)/\(name) (a segment a killed prune did not finish writing)")
            if !dryRun { unlink(archiveDirectory + "/" + name) }
        }
        for name in names where name.hasSuffix(".pending") {
            let pending = archiveDirectory + "/" + name
            let segment = String(pending.dropLast(".pending".count))
            var ids = Set<String>()
            try Self.forEachLine(of: pending) { line, _ in if let id = Self.runID(of: line) { ids.insert(id) } }
            var stillLive = false
            if FileManager.default.fileExists(atPath: historyPath) {
                try Self.forEachLine(of: historyPath) { line, _ in
                    if !stillLive, let id = Self.runID(of: line), ids.contains(id) { stillLive = true }
                }
            }
            if stillLive {
                done.append("remove \(pending): its records are still in \(historyPath) (a prune was killed before replacing it)")
                if !dryRun { unlink(pending) }
            } else {
                done.append("complete \(segment): its records left \(historyPath) (a prune was killed before finishing it)")
                if !dryRun {
                    guard rename(pending, segment) == 0 else { throw Self.fault("cannot rename \(pending) to \(segment)") }
                    Self.syncDirectory(archiveDirectory)
                }
            }
        }
        return done
    }

    /// Prunes the incident records whose run started before `cutoff` (RFC 3339 UTC with
    /// milliseconds, `2026-11-23T10:15:00.000Z`, compared as text as `--since` is), except those
    /// of `keepingRuns`. A line that is not an incident record, or whose `timestamp` is not in
    /// that spelling, is kept. With `dryRun` nothing is written.
    public func prune(startedBefore cutoff: String, keepingRuns: Set<String>, delete: Bool, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome()
        guard FileManager.default.fileExists(atPath: historyPath) else { return outcome }
        let fd = open(historyPath, dryRun ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Self.fault("cannot open \(historyPath)") }
        defer { close(fd) }
        return try LineAppender.withLock(fd, path: historyPath) {
            // The lines that stay and the lines that go are streamed to files beside the
            // history and the archive: memory stays bounded by the longest line.
            var keptLines: DurableReplacement?
            var prunedLines: DurableReplacement?
            if !dryRun {
                keptLines = try DurableReplacement(temporary: replacementPath)
                if !delete {
                    try FileManager.default.createDirectory(atPath: archiveDirectory, withIntermediateDirectories: true)
                    prunedLines = try DurableReplacement(temporary: archiveDirectory + "/incident-history.pruning.tmp")
                }
            }
            do {
                var newest = "", earliest = ""
                var figures = OutcomeStatisticsBuilder()
                try Self.forEachLine(of: historyPath) { line, terminated in
                    if terminated, let record = Self.record(of: line), record.timestamp.utf8.count == cutoff.utf8.count,
                       record.timestamp < cutoff, !keepingRuns.contains(record.runID) {
                        try prunedLines?.append(line, newline: true)
                        figures.add(record)
                        outcome.pruned += 1
                        newest = max(newest, record.timestamp)
                        earliest = earliest.isEmpty ? record.timestamp : min(earliest, record.timestamp)
                    } else {
                        // A torn last line (no newline) stays as it was, for the readers to quarantine.
                        try keptLines?.append(line, newline: terminated)
                        outcome.kept += 1
                    }
                }
                if outcome.pruned > 0 && !delete { outcome.segment = try freeSegmentName(newest: newest) }
                guard outcome.pruned > 0, let keptLines else {
                    keptLines?.discard()
                    prunedLines?.discard()
                    return outcome
                }
                // A ledger that cannot be read stops the prune before anything moves: the figures
                // of the records would be lost.
                let before = try ledger.entries()
                if let prunedLines, let segment = outcome.segment {
                    try prunedLines.commit(as: segment + ".pending")
                }
                guard let inode = keptLines.inode else { throw Self.fault("cannot read the inode of \(keptLines.temporary)") }
                var entry = PrunedIncidentLedger.Entry(from: earliest, until: newest, records: outcome.pruned, segment: outcome.segment,
                                                       pendingHistoryInode: inode, figures: figures.prunedFigures())
                try ledger.write(before + [entry])
                try keptLines.commit(as: historyPath)
                entry.pendingHistoryInode = nil
                try ledger.write(before + [entry])
                if let segment = outcome.segment {
                    guard rename(segment + ".pending", segment) == 0 else { throw Self.fault("cannot rename \(segment).pending to \(segment)") }
                    Self.syncDirectory(archiveDirectory)
                }
                return outcome
            } catch {
                keptLines?.discard()
                prunedLines?.discard()
                throw error
            }
        }
    }

    /// `incident-history.until-20261123T101500.000Z.jsonl` after the newest pruned start (so a
    /// dry run names the segment the prune writes), with `-2`, `-3` ... when it is taken.
    private func freeSegmentName(newest: String) throws -> String {
        let stamp = newest.filter { $0 != "-" && $0 != ":" }
        let base = archiveDirectory + "/incident-history.until-" + stamp
        var candidate = base + ".jsonl"
        var n = 2
        while FileManager.default.fileExists(atPath: candidate) || FileManager.default.fileExists(atPath: candidate + ".pending") {
            candidate = base + "-\(n).jsonl"
            n += 1
        }
        return candidate
    }

    // MARK: - Files

    /// Calls `body` with each line (without its newline), a chunk at a time; bytes after the
    /// last newline (a torn line) are given last, not `terminated`.
    static func forEachLine(of path: String, _ body: ([UInt8], _ terminated: Bool) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw fault("cannot read \(path)") }
        defer { try? handle.close() }
        var carry: [UInt8] = []
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            var start = chunk.startIndex
            for index in chunk.indices where chunk[index] == JSONLine.newline {
                if carry.isEmpty {
                    try body(Array(chunk[start..<index]), true)
                } else {
                    carry += chunk[start..<index]
                    try body(carry, true)
                    carry = []
                }
                start = index + 1
            }
            carry += chunk[start...]
        }
        if !carry.isEmpty { try body(carry, false) }
    }

    /// `fsync`s a directory, so the entries renamed into it are durable (best effort).
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func fault(_ what: String) -> KnowledgeError {
        KnowledgeError("\(what): \(String(cString: strerror(errno)))")
    }

    // MARK: - Records

    static func runID(of line: [UInt8]) -> String? { record(of: line)?.runID }

    /// The incident record of a line, nil when it decodes as none.
    static func record(of line: [UInt8]) -> IncidentRecord? {
        try? JSONDecoder().decode(IncidentRecord.self, from: Data(line))
    }
}
