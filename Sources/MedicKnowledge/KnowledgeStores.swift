import Foundation

/// The knowledge base as the engine relies on it: append-only record files (the incident
/// history and the §9.3 files) and whole documents (the immune memory). `KnowledgeBase` keeps
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
/// - **Damage is reported, not fatal**: a corrupt record is skipped and reported with where it
///   was; the rest is read.
/// - **Documents are replaced atomically**: a reader sees the old document or the new one.
public protocol KnowledgeStore: Sendable {
    @discardableResult
    func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem]
    @discardableResult
    func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem]
    /// Each whole record of `file`, in order, with its 1-based number; the problems found.
    func forEachLine(in file: KnowledgeFile, _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem]
    func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws
    /// The document (nil when it was never written).
    func readDocument(_ file: KnowledgeFile) throws -> [UInt8]?
}

extension KnowledgeBase: KnowledgeStore {}

/// The immune memory as the engine relies on it.
///
/// Guarantees:
/// - **Serialised updates**: `update` loads, changes and saves the memory with no other update
///   in between (across processes: a watch and a resumed run learning at once lose neither
///   change); a crash leaves the memory as before the update or after it.
/// - **Never emptied by a fault**: a memory that cannot be read throws, and is left as it is.
/// - **Reads see a whole memory** (the last one saved), without blocking updates.
public protocol ImmuneMemoryStore: Sendable {
    func read(capacity: Int, at now: Date, cache: ImmuneMemoryCache) throws -> ImmuneMemory
    func update<T>(capacity: Int, at now: Date, cache: ImmuneMemoryCache?,
                   _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange])
}

/// The immune memory as `immune-memory.json` in a knowledge base directory (`ImmuneMemoryDocument`).
public struct FileImmuneMemory: ImmuneMemoryStore {
    public let knowledgeBase: KnowledgeBase

    public init(knowledgeBase: KnowledgeBase) { self.knowledgeBase = knowledgeBase }

    public func read(capacity: Int, at now: Date, cache: ImmuneMemoryCache) throws -> ImmuneMemory {
        try ImmuneMemoryDocument.read(from: knowledgeBase, capacity: capacity, at: now, cache: cache)
    }

    public func update<T>(capacity: Int, at now: Date, cache: ImmuneMemoryCache?,
                          _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        try ImmuneMemoryDocument.update(in: knowledgeBase, capacity: capacity, at: now, cache: cache, body)
    }
}
