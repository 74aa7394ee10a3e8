import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The immune memory on disk: one JSON document, `immune-memory.json` in the knowledge base
/// directory beside the §9.3 files, replaced whole and atomically (temporary file, `fsync`,
/// rename, directory `fsync`), so a crash leaves the old memory or the new one.
///
/// Shape: `{"format": 1, "entries": [ImmuneMemoryEntry …]}`, entries sorted by signature id,
/// dates RFC 3339 with milliseconds. The capacity is configuration, not stored.
public enum ImmuneMemoryDocument {
    public static let fileName = "immune-memory.json"
    public static let format = 1

    public static func path(in knowledgeBase: KnowledgeBase) -> String {
        (knowledgeBase.directory as NSString).appendingPathComponent(fileName)
    }

    /// The memory saved in `knowledgeBase` (empty when never saved), with the evictions made if
    /// it holds more than `capacity` entries. Throws `KnowledgeError` naming the file when it
    /// cannot be read or is not a memory document; the file is left as it is (never emptied).
    public static func load(from knowledgeBase: KnowledgeBase, capacity: Int = ImmuneMemory.defaultCapacity,
                            at now: Date) throws -> (memory: ImmuneMemory, changes: [ImmuneMemoryChange]) {
        let path = path(in: knowledgeBase)
        guard FileManager.default.fileExists(atPath: path) else { return (ImmuneMemory(capacity: capacity), []) }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KnowledgeError("cannot read the immune memory \(path): \(KnowledgeBase.reason(error))")
        }
        return try decode(Array(bytes), from: path, capacity: capacity, at: now)
    }

    /// The memory a document's bytes hold, with the evictions made if it holds more than
    /// `capacity` entries. Throws `KnowledgeError` naming `source` (where the bytes were read)
    /// when they are not a memory document of this format.
    public static func decode(_ bytes: [UInt8], from source: String, capacity: Int = ImmuneMemory.defaultCapacity,
                              at now: Date) throws -> (memory: ImmuneMemory, changes: [ImmuneMemoryChange]) {
        let stored: Stored
        do {
            stored = try decoder().decode(Stored.self, from: Data(bytes))
        } catch {
            throw KnowledgeError("the immune memory \(source) is corrupt (\(describe(error))); it was left as it is: "
                                 + "repair it, or move it away to start with an empty memory")
        }
        guard stored.format == format else {
            throw KnowledgeError("the immune memory \(source) has format \(stored.format); this Medic reads format \(format)")
        }
        return ImmuneMemory.holding(stored.entries, capacity: capacity, at: now)
    }

    /// The document of `memory` (what `save` writes, without its final newline).
    public static func encode(_ memory: ImmuneMemory) throws -> [UInt8] {
        do {
            return Array(try encoder().encode(Stored(format: format, entries: memory.entries)))
        } catch {
            throw KnowledgeError("cannot encode the immune memory: \(error)")
        }
    }

    /// The saved memory for reading only (nothing is written, no lock taken): from `cache` while
    /// the document is unchanged, else loaded (and remembered in `cache`, unless loading it
    /// evicted entries: an update after this read must still find, save and report them).
    public static func read(from knowledgeBase: KnowledgeBase, capacity: Int = ImmuneMemory.defaultCapacity, at now: Date,
                            cache: ImmuneMemoryCache) throws -> ImmuneMemory {
        let path = path(in: knowledgeBase)
        if let cached = cache.memory(ifUnchanged: path, capacity: capacity) { return cached }
        let (memory, evictions) = try load(from: knowledgeBase, capacity: capacity, at: now)
        if evictions.isEmpty { cache.remember(memory, of: path, capacity: capacity) }
        return memory
    }

    /// Replaces the saved memory with `memory`. Throws `KnowledgeError` on an I/O fault, leaving
    /// the previous document in place.
    public static func save(_ memory: ImmuneMemory, to knowledgeBase: KnowledgeBase) throws {
        try KnowledgeBase.replaceAtomically(try encode(memory) + [UInt8(ascii: "\n")], at: path(in: knowledgeBase))
    }

    /// Loads the memory, lets `body` change it, and saves it if it changed, all under an
    /// exclusive `flock` on `immune-memory.lock` beside it, so two processes learning at once
    /// (a watch and a resumed run) never lose each other's change. Returns what `body` returns
    /// and every change (evictions made while loading included), for the caller to publish.
    ///
    /// With a `cache`, the document is decoded only when it changed since the cache last saw it
    /// (its inode, size and time of change): a watch consulting a memory of 10,000 entries for
    /// every incident does not decode megabytes of JSON each time.
    public static func update<T>(in knowledgeBase: KnowledgeBase, capacity: Int = ImmuneMemory.defaultCapacity, at now: Date,
                                 cache: ImmuneMemoryCache? = nil,
                                 _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        let lockPath = (knowledgeBase.directory as NSString).appendingPathComponent("immune-memory.lock")
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw KnowledgeError("cannot open the immune memory's lock \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw KnowledgeError("cannot lock the immune memory \(lockPath): \(String(cString: strerror(errno)))")
            }
        }
        let path = path(in: knowledgeBase)
        var memory: ImmuneMemory
        var loadChanges: [ImmuneMemoryChange] = []
        if let cached = cache?.memory(ifUnchanged: path, capacity: capacity) {
            memory = cached
        } else {
            (memory, loadChanges) = try load(from: knowledgeBase, capacity: capacity, at: now)
        }
        let before = memory
        let (result, changes) = try body(&memory)
        if memory != before || !loadChanges.isEmpty { try save(memory, to: knowledgeBase) }
        cache?.remember(memory, of: path, capacity: capacity)
        loadChanges += changes
        return (result, loadChanges)
    }

    private struct Stored: Codable {
        var format: Int
        var entries: [ImmuneMemoryEntry]
    }

    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(timeStyle))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = try? timeStyle.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an RFC 3339 time")
            }
            return date
        }
        return decoder
    }

    private static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return KnowledgeBase.reason(error) }
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return (path.isEmpty ? "" : "at \(path): ") + context.debugDescription + (detail.map { ": \($0)" } ?? "")
        @unknown default:
            return "\(error)"
        }
    }
}

/// The immune memory as last read or written by this process, with the identity of the file it
/// came from (device, inode, size, time of change): `ImmuneMemoryDocument.update` uses it instead
/// of decoding the document again while the file is the same. A document replaced by another
/// process (a rename: a new inode) or a different capacity is read again.
public final class ImmuneMemoryCache: @unchecked Sendable {
    private struct Stamp: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int
    }

    private let lock = NSLock()
    private var entry: (path: String, capacity: Int, stamp: Stamp, memory: ImmuneMemory)?

    public init() {}

    private static func stamp(_ path: String) -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Stamp(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                     seconds: Int(info.st_ctim.tv_sec), nanoseconds: Int(info.st_ctim.tv_nsec))
    }

    func memory(ifUnchanged path: String, capacity: Int) -> ImmuneMemory? {
        guard let stamp = Self.stamp(path) else { return nil }
        return lock.withLock {
            guard let entry, entry.path == path, entry.capacity == capacity, entry.stamp == stamp else { return nil }
            return entry.memory
        }
    }

    func remember(_ memory: ImmuneMemory, of path: String, capacity: Int) {
        let stamp = Self.stamp(path)
        lock.withLock { entry = stamp.map { (path, capacity, $0, memory) } }
    }
}
