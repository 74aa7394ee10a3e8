import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new file written a buffer at a time beside the one it will become: nothing is visible
/// under the final name until `commit` has `fsync`ed it, renamed it and `fsync`ed the
/// directory, so a crash leaves the old file or the new one, never a part of it.
final class DurableReplacement {
    let temporary: String
    private var fd: Int32
    private var buffer: [UInt8] = []

    /// Creates `temporary` (replacing one a crash left).
    init(temporary: String) throws {
        self.temporary = temporary
        unlink(temporary)
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IncidentHistoryArchive.fault("cannot create \(temporary)") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The new file's inode: the one its final name will have once committed.
    var inode: UInt64? { fd >= 0 ? PrunedIncidentLedger.inode(of: fd) : nil }

    func append(_ line: [UInt8], newline: Bool) throws {
        buffer += line
        if newline { buffer.append(JSONLine.newline) }
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let written = buffer[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw IncidentHistoryArchive.fault("cannot write \(temporary)") }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Makes the file durable and gives it its name (`rename`, then the directory's `fsync`).
    func commit(as path: String) throws {
        try flush()
        guard fsync(fd) == 0 else { throw IncidentHistoryArchive.fault("cannot make \(temporary) durable (fsync)") }
        close(fd)
        fd = -1
        guard rename(temporary, path) == 0 else { throw IncidentHistoryArchive.fault("cannot rename \(temporary) to \(path)") }
        IncidentHistoryArchive.syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Removes the file (nothing to replace, or a failure).
    func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporary)
    }
}
