import Foundation
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

extension StatePruner {
    /// The archive's files last written before `now - maxAge`, as the actions that remove them:
    /// the journals of `archive/runs/` first, then their side files (`.recorded`, `.torn`), then
    /// the complete incident segments of `archive/knowledge/`. A journal goes before its side
    /// files, as a prune with `disposal: delete` removes them, so a kill between the two leaves
    /// only side files the next prune removes. A segment still `.pending`, the `prune.lock`, and
    /// anything else a person put there are never touched.
    func expiredArchive(olderThan maxAge: Interval) -> [PruneAction] {
        let cutoff = now.timeIntervalSince1970 - maxAge.seconds
        let why = "archived, last written more than \(maxAge) ago"
        func expired(in directory: String, _ isCandidate: (String) -> Bool) -> [String] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter(isCandidate).sorted()
            return names.map { directory + "/" + $0 }.filter { path in
                var info = stat()
                return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
                    && Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9 < cutoff
            }
        }
        let journals = expired(in: archivedRuns) { $0.hasSuffix(".jsonl") }
        let sideFiles = expired(in: archivedRuns) { $0.hasSuffix(".recorded") || $0.hasSuffix(".torn") }
        let segments = expired(in: incidentArchive.archiveDirectory) { $0.hasPrefix("incident-history.until-") && $0.hasSuffix(".jsonl") }
        func runID(_ path: String) -> String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }
        return journals.map { PruneAction(action: .removeArchived, run: runID($0), path: $0, reason: why) }
            + sideFiles.map { PruneAction(action: .removeArchived, run: runID($0), path: $0, reason: why) }
            + segments.map { PruneAction(action: .removeArchived, path: $0, reason: why) }
    }

    /// Removes one archived file; one already gone is fine (another hand removed it).
    func removeArchived(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw JournalError("cannot remove \(path): \(String(cString: strerror(errno)))") }
    }
}
