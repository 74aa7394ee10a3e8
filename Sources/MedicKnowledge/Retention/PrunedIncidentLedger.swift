import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `knowledge/incident-history.pruned.json`: a derived file, one entry per prune that took
/// incident records out of the history, with the statistics of those records
/// (`PrunedIncidentFigures`), which `incidentStatistics` adds in so that the whole-history
/// figures stay what they were.
///
/// An entry must count exactly when its records are gone from the history. A prune (holding
/// the history's writers' lock) writes its entry marked with the inode of the replacement
/// history it is about to rename into place, then renames it (the moment the records leave),
/// then rewrites the entry unmarked. A marked entry counts only while the history is that
/// inode: killed before the rename, the old history (records included) is there and the entry
/// does not count; killed after, the new one is there and it does. The next prune's `recover`
/// unmarks such an entry or drops it.
public struct PrunedIncidentLedger: Sendable {
    public static let fileName = "incident-history.pruned.json"

    public struct Entry: Codable, Sendable, Equatable {
        /// The earliest and the newest run start among the records (RFC 3339, as `timestamp`).
        public var from: String
        public var until: String
        public var records: Int
        /// The archive segment the records went to; nil when they were deleted.
        public var segment: String?
        /// Set while the prune that wrote the entry has not finished: the inode of the history
        /// without the records.
        public var pendingHistoryInode: UInt64?
        public var figures: PrunedIncidentFigures

        enum CodingKeys: String, CodingKey {
            case from, until, records, segment, figures
            case pendingHistoryInode = "pending_history_inode"
        }
    }

    struct Document: Codable {
        var v = 1
        var entries: [Entry] = []
    }

    public let knowledgeDirectory: String
    public var path: String { knowledgeDirectory + "/" + Self.fileName }
    var historyPath: String { knowledgeDirectory + "/" + KnowledgeFile.incidentHistory.name }

    public init(knowledgeDirectory: String) { self.knowledgeDirectory = knowledgeDirectory }

    /// Every entry as written (none when the file does not exist).
    public func entries() throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw IncidentHistoryArchive.fault("cannot read \(path)") }
            return []
        }
        do {
            let document = try JSONDecoder().decode(Document.self, from: data)
            guard document.v == 1 else { throw KnowledgeError("\(path): version \(document.v) is not known (1 is)") }
            return document.entries
        } catch let error as KnowledgeError {
            throw error
        } catch {
            throw KnowledgeError("\(path) is not a pruned-records ledger (\(error)); its figures are not counted")
        }
    }

    /// The entries whose records are out of the history whose inode is `historyInode`.
    public func counted(historyInode: UInt64) throws -> [Entry] {
        try entries().filter { $0.pendingHistoryInode == nil || $0.pendingHistoryInode == historyInode }
    }

    /// Replaces the file with `entries` (temporary file, `fsync`, rename, directory `fsync`).
    func write(_ entries: [Entry]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(Document(entries: entries)) } catch { throw KnowledgeError("cannot encode \(path): \(error)") }
        let file = try DurableReplacement(temporary: knowledgeDirectory + "/." + Self.fileName + ".tmp")
        do {
            try file.append(Array(data), newline: true)
            try file.commit(as: path)
        } catch {
            file.discard()
            throw error
        }
    }

    /// Settles the entries of a prune killed part-way: marked for the history that is in place,
    /// unmarked; marked for another (the rename never happened), dropped. One sentence per entry.
    func recover(dryRun: Bool) throws -> [String] {
        let all = try entries()
        guard all.contains(where: { $0.pendingHistoryInode != nil }) else { return [] }
        let current = Self.inode(of: historyPath)
        var done: [String] = [], settled: [Entry] = []
        for var entry in all {
            guard let inode = entry.pendingHistoryInode else { settled.append(entry); continue }
            if inode == current {
                done.append("complete \(path): the figures of \(entry.records) pruned incident record(s) now count for good")
                entry.pendingHistoryInode = nil
                settled.append(entry)
            } else {
                done.append("remove from \(path) the figures of \(entry.records) incident record(s) a killed prune left in the history")
            }
        }
        if !dryRun { try write(settled) }
        return done
    }

    static func inode(of path: String) -> UInt64? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return UInt64(status.st_ino)
    }

    static func inode(of fd: Int32) -> UInt64? {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        return UInt64(status.st_ino)
    }
}
