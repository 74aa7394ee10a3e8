import Foundation

/// The knowledge base as the engine relies on it: append-only record files (the incident
/// history and the §9.3 files) and whole documents (`root-causes.json`). `KnowledgeBase` keeps
/// them as files of a directory; a database implementation gives the same guarantees.
///
/// Guarantees:
/// - **Whole records**: an append stores every record it was given or none; a reader never sees
///   part of a record, and a record cut short by a crash is set aside (and reported), never
///   glued to the next one.
/// - **Durable**: an append with `durable: true` returns only once its records survive a crash
///   of the machine; `durable: false` makes them visible at once and durable later.
/// - **Ordered**: records are read back in the order they were appended; concurrent appenders
///   (several processes) never interleave within a record.
/// - **Followable**: a reader can continue from a `KnowledgePosition` and get exactly the whole
///   records appended after it, in order (a running watch ranks every incident without reading
///   the history again). A record still being appended is not given until it is whole.
/// - **Damage is reported, not fatal**: a corrupt record is skipped and reported with where it
///   was; the rest is read.
/// - **Documents are replaced atomically**: a reader sees the old document or the new one.
public protocol KnowledgeStore: Sendable {
    /// Where the records are, for messages: a directory, a database.
    var location: String { get }
    @discardableResult
    func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem]
    @discardableResult
    func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem]
    /// Each whole record of `file`, in order, with its 1-based number; the problems found.
    @discardableResult
    func forEachLine(in file: KnowledgeFile, _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem]
    /// Each whole record of `file` appended after `position` (`.start`: every record), in order,
    /// unchecked (the caller decodes and skips what it cannot use); returns where to continue.
    /// When the records up to `position` are gone (replaced by a shorter history, as `medic
    /// prune` does), `restarting` is called first and reading begins again at the first record:
    /// the caller forgets what it read before.
    func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                     _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition
    func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws
    /// The document (nil when it was never written).
    func readDocument(_ file: KnowledgeFile) throws -> [UInt8]?
}

/// Where a reader of a record file is: for the file store the byte offset just after the last
/// whole record read; for a database, that record's sequence number. Only the store that gave
/// it knows what it means.
public struct KnowledgePosition: Sendable, Hashable, Comparable {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// Before the first record.
    public static let start = KnowledgePosition(0)

    public static func < (a: KnowledgePosition, b: KnowledgePosition) -> Bool { a.value < b.value }
}

extension KnowledgeStore {
    /// Appends a record encoded with `JSONEncoder` (sorted keys, on one line). (A label of its
    /// own: a `[UInt8]` is `Encodable` too, and must never be taken for a JSON array.)
    @discardableResult
    public func append(encoding record: some Encodable, to file: KnowledgeFile, durable: Bool = true) throws -> [KnowledgeProblem] {
        try append(try KnowledgeBase.encode(record), to: file, durable: durable)
    }

    /// Appends records encoded with `JSONEncoder`, in one write (see `appendBatch(_:to:durable:)`).
    @discardableResult
    public func appendBatch<Record: Encodable>(encoding records: [Record], to file: KnowledgeFile,
                                               durable: Bool = true) throws -> [KnowledgeProblem] {
        try appendBatch(try records.map { try KnowledgeBase.encode($0) }, to: file, durable: durable)
    }
}

extension KnowledgeBase: KnowledgeStore {
    public var location: String { directory }
}

/// The immune memory as the engine relies on it.
///
/// Guarantees:
/// - **Serialised updates**: `update` loads, changes and saves the memory with no other update
///   in between (across processes: a watch and a resumed run learning at once lose neither
///   change); a crash leaves the memory as before the update or after it.
/// - **Never emptied by a fault**: a memory that cannot be read throws, and is left as it is.
/// - **Reads see a whole memory** (the last one saved; empty when none was), without blocking
///   updates, and write nothing.
public protocol ImmuneMemoryStore: Sendable {
    /// Where the memory is, for messages: a directory, a database.
    var location: String { get }
    /// The saved memory, holding at most `capacity` entries (the evictions are not saved).
    func read(capacity: Int, at now: Date) throws -> ImmuneMemory
    /// Loads the memory, lets `body` change it, saves it when it changed; returns what `body`
    /// returns and every change (evictions made while loading first), for the caller to publish.
    func update<T>(capacity: Int, at now: Date,
                   _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange])
}

/// The immune memory as `immune-memory.json` in a knowledge base directory
/// (`ImmuneMemoryDocument`), decoded again only when the document changed (`cache`). The
/// directory is created by the first update, never by a read.
public struct FileImmuneMemory: ImmuneMemoryStore {
    public let directory: String
    /// The memory as last read or written through this store (share one per engine).
    public let cache: ImmuneMemoryCache

    public init(directory: String, cache: ImmuneMemoryCache = ImmuneMemoryCache()) {
        self.directory = directory
        self.cache = cache
    }

    public var location: String { directory }

    public func read(capacity: Int, at now: Date) throws -> ImmuneMemory {
        guard FileManager.default.fileExists(atPath: directory) else { return ImmuneMemory(capacity: capacity) }
        return try ImmuneMemoryDocument.read(from: KnowledgeBase(directory: directory, create: false), capacity: capacity,
                                             at: now, cache: cache)
    }

    public func update<T>(capacity: Int, at now: Date,
                          _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        try ImmuneMemoryDocument.update(in: KnowledgeBase(directory: directory), capacity: capacity, at: now, cache: cache, body)
    }
}

/// A knowledge base directory as the engine uses it: a `KnowledgeBase` opened at each call,
/// the directory created by the first write and never by a read (a directory not there yet
/// holds no records and no documents). So a state directory gets `knowledge/` only once
/// something is learned, and a knowledge base that cannot be created fails the write that
/// needed it, not the engine's start.
public struct FileKnowledgeStore: KnowledgeStore {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var location: String { directory }

    private func writable() throws -> KnowledgeBase { try KnowledgeBase(directory: directory) }

    private func readable() throws -> KnowledgeBase? {
        guard FileManager.default.fileExists(atPath: directory) else { return nil }
        return try KnowledgeBase(directory: directory, create: false)
    }

    @discardableResult
    public func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        try writable().append(line, to: file, durable: durable)
    }

    @discardableResult
    public func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        try writable().appendBatch(lines, to: file, durable: durable)
    }

    @discardableResult
    public func forEachLine(in file: KnowledgeFile,
                            _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem] {
        try readable()?.forEachLine(in: file, body) ?? []
    }

    public func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                            _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition {
        guard let base = try readable() else {
            if position > .start { restarting() }
            return .start
        }
        return try base.forEachLine(in: file, after: position, restarting: restarting, body)
    }

    public func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws {
        try writable().replaceDocument(bytes, of: file)
    }

    public func readDocument(_ file: KnowledgeFile) throws -> [UInt8]? {
        try readable()?.readDocument(file)
    }
}

/// The knowledge stores of one engine: what runs learn into and selection reads. The front end
/// chooses them once (`StateStores.knowledge`); everything below asks the protocols.
public struct KnowledgeStores: Sendable {
    /// The incident history and the §9.3 files.
    public var records: any KnowledgeStore
    public var immuneMemory: any ImmuneMemoryStore

    public init(records: any KnowledgeStore, immuneMemory: any ImmuneMemoryStore) {
        self.records = records
        self.immuneMemory = immuneMemory
    }

    /// The file-backed stores of the knowledge base directory `directory` (created by the first
    /// write); the immune memory kept in `cache` while its document is unchanged.
    public static func files(in directory: String, immuneMemoryCache cache: ImmuneMemoryCache = ImmuneMemoryCache()) -> KnowledgeStores {
        KnowledgeStores(records: FileKnowledgeStore(directory: directory), immuneMemory: FileImmuneMemory(directory: directory, cache: cache))
    }
}
