import Foundation
import MedicEngine
import MedicKnowledge

/// The calls made of a store, in order, each a short line (`append incident-history.jsonl`).
final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [String] = []

    func add(_ call: String) { lock.withLock { all.append(call) } }
    var calls: [String] { lock.withLock { all } }
}

/// A knowledge store that passes every call on to `base` and logs it: proof that the engine
/// reached the knowledge base through the protocol it was given.
struct RecordingKnowledgeStore: KnowledgeStore {
    let base: any KnowledgeStore
    let log: CallLog

    var location: String { base.location }

    func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        log.add("append \(file.name)")
        return try base.append(line, to: file, durable: durable)
    }

    func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        log.add("appendBatch \(file.name)")
        return try base.appendBatch(lines, to: file, durable: durable)
    }

    func forEachLine(in file: KnowledgeFile, _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws -> [KnowledgeProblem] {
        log.add("forEachLine \(file.name)")
        return try base.forEachLine(in: file, body)
    }

    func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                     _ body: (ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition {
        log.add("follow \(file.name)")
        return try base.forEachLine(in: file, after: position, restarting: restarting, body)
    }

    func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws {
        log.add("replaceDocument \(file.name)")
        try base.replaceDocument(bytes, of: file)
    }

    func readDocument(_ file: KnowledgeFile) throws -> [UInt8]? {
        log.add("readDocument \(file.name)")
        return try base.readDocument(file)
    }
}

/// An immune memory store that passes every call on to `base` and logs it.
struct RecordingImmuneMemory: ImmuneMemoryStore {
    let base: any ImmuneMemoryStore
    let log: CallLog

    var location: String { base.location }

    func read(capacity: Int, at now: Date) throws -> ImmuneMemory {
        log.add("read")
        return try base.read(capacity: capacity, at: now)
    }

    func update<T>(capacity: Int, at now: Date,
                   _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        log.add("update")
        return try base.update(capacity: capacity, at: now, body)
    }
}

/// An outbox that passes every event on to `base` and logs its id.
struct RecordingOutbox: EventOutbox {
    let base: any EventOutbox
    let log: CallLog

    var location: String { base.location }

    func append(_ event: OutboxEvent) throws {
        log.add(event.id)
        try base.append(event)
    }

    func events(after cursor: OutboxCursor?, limit: Int) throws -> OutboxPage {
        try base.events(after: cursor, limit: limit)
    }
}

extension KnowledgeStores {
    /// These stores, each behind a recorder writing to `log` (memory calls prefixed `memory `).
    func recorded(into log: CallLog, memoryLog: CallLog) -> KnowledgeStores {
        KnowledgeStores(records: RecordingKnowledgeStore(base: records, log: log),
                        immuneMemory: RecordingImmuneMemory(base: immuneMemory, log: memoryLog))
    }
}

/// A knowledge store that calls `onAppend` before each append it passes on to `base`: what is
/// true of the run while the knowledge base learns of it.
struct ObservingKnowledgeStore: KnowledgeStore {
    let base: any KnowledgeStore
    let onAppend: @Sendable () -> Void

    var location: String { base.location }

    func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        onAppend()
        return try base.append(line, to: file, durable: durable)
    }

    func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        onAppend()
        return try base.appendBatch(lines, to: file, durable: durable)
    }

    func forEachLine(in file: KnowledgeFile, _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws -> [KnowledgeProblem] {
        try base.forEachLine(in: file, body)
    }

    func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                     _ body: (ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition {
        try base.forEachLine(in: file, after: position, restarting: restarting, body)
    }

    func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws { try base.replaceDocument(bytes, of: file) }

    func readDocument(_ file: KnowledgeFile) throws -> [UInt8]? { try base.readDocument(file) }
}
