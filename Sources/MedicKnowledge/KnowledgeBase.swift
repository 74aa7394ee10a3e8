import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The knowledge base: a directory (by default `<state dir>/knowledge`; the caller passes the
/// path) holding the files of reference §9.3.
///
/// Appends are whole lines, each call one `write(2)` under an exclusive `flock`, `fsync`ed before
/// it returns (unless `durable: false`); a failed append leaves the file as it was; an append to
/// a file left with a torn last line by a crash moves that line to quarantine first. Reads stream
/// a line at a time; a torn last line is moved to `<file>.torn` and reported, a corrupt line is
/// skipped and reported with its line number, and the rest loads. See docs/knowledge.md.
public struct KnowledgeBase: Sendable {
    public let directory: String

    /// The knowledge base in `directory`, created (with its parents) when `create` and absent.
    /// Throws when the directory is absent (and not to be created), cannot be created, or is not
    /// a directory.
    public init(directory: String, create: Bool = true) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw KnowledgeError("the knowledge base \(directory) is not a directory")
            }
            return
        }
        guard create else { throw KnowledgeError("the knowledge base \(directory) does not exist") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw KnowledgeError("cannot create the knowledge base \(directory): \(Self.reason(error))")
        }
    }

    /// The knowledge base directory of a state directory: `<state>/knowledge`.
    public static func defaultDirectory(inState state: String) -> String {
        (state as NSString).appendingPathComponent("knowledge")
    }

    /// The path of `file` in this knowledge base.
    public func path(_ file: KnowledgeFile) -> String {
        (directory as NSString).appendingPathComponent(file.name)
    }

    /// The quarantine file of `file`: torn last lines moved out of it, one a line.
    public func quarantinePath(_ file: KnowledgeFile) -> String { path(file) + ".torn" }

    // MARK: - Appending

    /// Appends one record, a JSON object on one line (its bytes, without the newline).
    /// Throws, writing nothing, when it is not one, or on an I/O fault. Returns the torn last
    /// line left by a writer that crashed, when the file ended with one: moved to the quarantine
    /// file before this record was written, so the two are never glued together.
    @discardableResult
    public func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool = true) throws -> [KnowledgeProblem] {
        try appendBatch([line], to: file, durable: durable)
    }

    /// Appends `lines` in ONE write and one `fsync` (when `durable`): all or none of them. Every
    /// line is checked first; one that is not a single-line JSON object refuses the whole batch.
    @discardableResult
    public func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool = true) throws -> [KnowledgeProblem] {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use replaceDocument")
        }
        guard !lines.isEmpty else { return [] }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(lines.count) { $0 + $1.count })
        for (index, line) in lines.enumerated() {
            if let refusal = JSONLine.refusal(line) {
                let which = lines.count == 1 ? "the record" : "record \(index + 1) of \(lines.count)"
                throw KnowledgeError("cannot append to \(path(file)): \(which) is refused: \(refusal)")
            }
            bytes += line
            bytes.append(JSONLine.newline)
        }
        guard let torn = try LineAppender.append(bytes, to: path(file), durable: durable) else { return [] }
        return [KnowledgeProblem(kind: .tornLine, path: path(file), line: 0, message: torn)]
    }

    /// A record encoded with `JSONEncoder`: sorted keys, on one line.
    static func encode(_ record: some Encodable) throws -> [UInt8] {
        do {
            return Array(try JSONLine.encoder().encode(record))
        } catch {
            throw KnowledgeError("cannot encode a record of type \(type(of: record)): \(error)")
        }
    }

    // MARK: - Reading

    /// Calls `body` with each whole line of `file` that is a JSON object (its bytes without the
    /// newline, and its 1-based line number), streaming in bounded memory. Returns the problems
    /// found: a torn last line (quarantined first, see the type's comment) and skipped corrupt
    /// lines. An absent file has no lines. Throws on an I/O fault, or what `body` throws.
    @discardableResult
    public func forEachLine(in file: KnowledgeFile,
                            _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem] {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use readDocument")
        }
        return try LineReader.forEachLine(in: path(file), validate: true, body)
    }

    /// Each whole line of `file` appended after `position` (a byte offset), unchecked, in order;
    /// where to continue (just after the last whole line: a line still being written is read
    /// next time). A file shorter than `position` was replaced (a prune) or removed: it is read
    /// from its start, after a call of `restarting`. Takes no lock and repairs nothing.
    public func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                            _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use readDocument")
        }
        return KnowledgePosition(try LineReader.followLines(in: path(file), after: position.value, restarting: restarting, body))
    }

    /// Every record of `file` (each a JSON object's bytes, without the newline), with the
    /// problems found (see `forEachLine`).
    public func read(_ file: KnowledgeFile) throws -> (records: [[UInt8]], problems: [KnowledgeProblem]) {
        var records: [[UInt8]] = []
        let problems = try forEachLine(in: file) { line, _ in records.append(Array(line)) }
        return (records, problems)
    }

    /// Every record of `file` decoded as `Record`; a line that does not decode is skipped and
    /// reported like a corrupt one.
    public func read<Record: Decodable>(_ type: Record.Type, from file: KnowledgeFile,
                                        decoder: JSONDecoder = JSONDecoder()) throws -> (records: [Record], problems: [KnowledgeProblem]) {
        var records: [Record] = []
        var undecodable: [KnowledgeProblem] = []
        let problems = try forEachLine(in: file) { line, number in
            do {
                records.append(try decoder.decode(Record.self, from: Data(line)))
            } catch {
                undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                    message: "not a \(Record.self) record (\(Self.reason(error))); line skipped"))
            }
        }
        return (records, (problems + undecodable).sorted { $0.line < $1.line })
    }

    // MARK: - The JSON document (root-causes.json)

    /// Replaces `file` (a JSON document, not lines) with `bytes`: written to a temporary file
    /// beside it, `fsync`ed, renamed over it, the directory `fsync`ed, so a crash leaves either
    /// the old document or the new one.
    public func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws {
        guard !file.isJSONLines else { throw KnowledgeError("\(file.name) is JSON Lines: use append") }
        guard (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) != nil else {
            throw KnowledgeError("cannot replace \(path(file)): the document is not valid JSON")
        }
        try Self.replaceAtomically(bytes, at: path(file))
    }

    /// Replaces the file at `target` whole: a temporary file beside it, written, `fsync`ed,
    /// renamed over it, the directory `fsync`ed; a crash leaves the old file or the new one.
    static func replaceAtomically(_ bytes: [UInt8], at target: String) throws {
        let temporary = target + ".new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LineAppender.fault("cannot create", temporary) }
        var done = 0
        while done < bytes.count {
            let count = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let failure = LineAppender.fault("cannot write", temporary)
                close(fd)
                unlink(temporary)
                throw failure
            }
            done += count
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, target) == 0 else {
            let failure = LineAppender.fault("cannot replace", target)
            unlink(temporary)
            throw failure
        }
        LineAppender.syncDirectory(of: target)
    }

    /// The document `file` (nil when it was never written).
    public func readDocument(_ file: KnowledgeFile) throws -> [UInt8]? {
        guard !file.isJSONLines else { throw KnowledgeError("\(file.name) is JSON Lines: use read") }
        guard FileManager.default.fileExists(atPath: path(file)) else { return nil }
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path(file))))
        } catch {
            throw KnowledgeError("cannot read \(path(file)): \(Self.reason(error))")
        }
    }

    static func reason(_ error: Error) -> String {
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return (error as NSError).localizedDescription
    }
}
