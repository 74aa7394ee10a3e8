import Foundation
import MedicKnowledge

#if canImport(Glibc)
import Glibc
#endif

/// The newest records of `incident-history.jsonl`, read from the end of the file backwards, so
/// that a health check asked every minute costs the last hour or so of records, not the whole
/// history (a million records take seconds to read).
///
/// Records are appended when their run ends, so the file is in `ended_at` order up to the time
/// between a run's `run_finished` and its append (milliseconds to seconds). The reader assumes
/// it is in order within `orderTolerance`: a record never has an `ended_at` more than
/// `orderTolerance` older than a record appended before it. Under that assumption it stops as
/// soon as nothing earlier can be in the window or newer than the newest seen.
///
/// Read only: a torn last line (a writer that crashed mid-line) is skipped, not quarantined (the
/// next append or `KnowledgeBase.read` does that); a line that is not an incident record is
/// skipped and counted.
struct IncidentTail: Sendable {
    /// What the health checks need of one record.
    struct Entry: Sendable, Hashable {
        var endedAt: Date
        var attempted: Bool
        var succeeded: Bool
        /// Started by an anomaly rule (detection method other than manual) ...
        var detected = false
        /// ... and a person denied it: a false positive (§10.1).
        var denied = false
    }

    /// The records ended at or after `windowStart` (and not after `now`), the newest `ended_at`
    /// in the file, and how many lines were skipped as unreadable.
    struct Result: Sendable, Hashable {
        var window: [Entry] = []
        var newest: Date?
        var skippedLines = 0
        /// The file holds at least one line (decodable or not).
        var hasLines = false
    }

    private struct Fields: Decodable {
        struct Detection: Decodable { var method: IncidentRecord.DetectionMethod }
        struct Metadata: Decodable { var denied: Bool? }
        var endedAt: String
        var runOutcome: IncidentRecord.RunOutcome
        var detection: Detection?
        var metadata: Metadata?

        enum CodingKeys: String, CodingKey {
            case endedAt = "ended_at"
            case runOutcome = "run_outcome"
            case detection, metadata
        }
    }

    var path: String
    var orderTolerance: TimeInterval
    var chunkSize = 64 << 10

    /// Throws `KnowledgeError` when the file exists and cannot be read; an absent file has no records.
    func read(windowStart: Date, now: Date) throws -> Result {
        var result = Result()
        let decoder = JSONDecoder()
        try forEachLineBackwards { line in
            result.hasLines = true
            guard let fields = try? decoder.decode(Fields.self, from: Data(line)),
                  let ended = JournalRecord.date(fields.endedAt) else {
                result.skippedLines += 1
                return true
            }
            if ended >= windowStart && ended <= now {
                result.window.append(Entry(endedAt: ended, attempted: fields.runOutcome.attempted,
                                           succeeded: fields.runOutcome == .succeeded,
                                           detected: (fields.detection?.method ?? .manual) != .manual,
                                           denied: fields.metadata?.denied ?? false))
            }
            // Nothing before this line ended after `ended + orderTolerance`.
            let newest = max(result.newest ?? ended, ended)
            result.newest = newest
            let latestBefore = ended.addingTimeInterval(orderTolerance)
            return !(latestBefore < windowStart && latestBefore <= newest)
        }
        return result
    }

    /// Calls `body` with each whole line, last first, until it returns false.
    private func forEachLineBackwards(_ body: (ArraySlice<UInt8>) throws -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw KnowledgeError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw KnowledgeError("cannot read \(path): \(String(cString: strerror(errno)))") }
        var position = Int(info.st_size)
        var carry: [UInt8] = []  // the end of a line whose start lies before `position`
        var atEnd = true         // still at the file's last line (whole or torn)
        while position > 0 {
            let count = min(chunkSize, position)
            position -= count
            var region = [UInt8](repeating: 0, count: count)
            let read = region.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(position)) }
            guard read == count else {
                throw KnowledgeError("cannot read \(path): \(read < 0 ? String(cString: strerror(errno)) : "the file shrank")")
            }
            if atEnd {
                // Drop the final newline, or a torn last line with no newline.
                guard let newline = region.lastIndex(of: 0x0A) else { continue }
                region.removeSubrange(newline...)
                atEnd = false
            } else {
                region += carry
            }
            var lineEnd = region.endIndex
            while let newline = region[..<lineEnd].lastIndex(of: 0x0A) {
                let line = region[(newline + 1)..<lineEnd]
                if !line.isEmpty, try !body(line) { return }
                lineEnd = newline
            }
            carry = Array(region[..<lineEnd])
        }
        if !carry.isEmpty { _ = try body(carry[...]) }
    }
}
