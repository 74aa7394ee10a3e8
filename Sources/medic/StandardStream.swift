import Foundation

/// The one writer of standard output and the one writer of standard error: every command writes
/// through these, never through `print` or `FileHandle`. Each call is written whole with
/// write(2) under a lock, so lines from concurrent tasks (run progress, watch events, the
/// terminal's live line) never interleave mid-line, and nothing is buffered: what a command
/// wrote is out before it exits or starts a process, whether the stream is a terminal, a pipe
/// or a file.
final class StandardStream: @unchecked Sendable {
    static let output = StandardStream(descriptor: STDOUT_FILENO)
    static let error = StandardStream(descriptor: STDERR_FILENO)

    private let descriptor: Int32
    private let lock = NSLock()

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// True when the stream is a terminal (marks, colour, a live line).
    var isTerminal: Bool { isatty(descriptor) == 1 }

    /// Writes `text` as it is; when the stream cannot take it (a closed pipe) the text is lost
    /// and Medic carries on.
    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = lock.withLock { Self.writeAll(bytes, to: descriptor) }
    }

    /// Writes `bytes`; throws when the stream cannot take them (a closed pipe: EPIPE), for a
    /// command that should stop producing output nobody reads.
    func write(bytes: [UInt8]) throws {
        let failure = lock.withLock { Self.writeAll(bytes, to: descriptor) }
        if let failure { throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO) }
    }

    /// Writes `text` and a newline, unless it already ends with one.
    func line(_ text: String) {
        write(text.hasSuffix("\n") ? text : text + "\n")
    }

    /// write(2) until every byte is out; the errno that stopped it, or nil.
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Foundation.write(descriptor, buffer.baseAddress! + offset, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }
}

/// A line on standard error.
func printError(_ text: String) { StandardStream.error.line(text) }

/// Text on standard output, exactly as given (add the newline yourself).
func writeOut(_ text: String) { StandardStream.output.write(text) }

/// `text` and a newline on standard output.
func printLine(_ text: String) { StandardStream.output.write(text + "\n") }

/// Standard output in 64 KiB writes; a write that fails (a closed pipe) throws.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func flushIfFull() throws {
        if bytes.count >= 1 << 16 { try flush() }
    }

    mutating func flush() throws {
        guard !bytes.isEmpty else { return }
        try StandardStream.output.write(bytes: bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
