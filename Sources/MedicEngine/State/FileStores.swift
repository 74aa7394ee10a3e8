import Foundation
import MedicKnowledge

/// The stores of one engine, chosen in one place: the front end builds this value and hands it
/// down; everything below asks the protocols. `files(in:)` gives the state directory's
/// file-backed stores, today's behaviour and crash guarantees.
public struct StateStores: Sendable {
    /// The runs, their journals and index.
    public var runs: RunStore
    public var locks: any TargetLocking
    public var flags: any OperatorFlags
    public var audit: any AuditLog
    /// The knowledge base and immune memory: what runs learn into and selection reads.
    public var knowledge: KnowledgeStores
    /// Where the bus's `outbox` transport appends its events.
    public var outbox: any EventOutbox

    public init(runs: RunStore, locks: any TargetLocking, flags: any OperatorFlags, audit: any AuditLog,
                knowledge: KnowledgeStores, outbox: any EventOutbox) {
        self.runs = runs
        self.locks = locks
        self.flags = flags
        self.audit = audit
        self.knowledge = knowledge
        self.outbox = outbox
    }

    /// The file-backed stores of the state directory at `directory` (created when missing),
    /// timed by `clock`.
    public static func files(in directory: String, clock: any EngineClock = SystemClock()) throws -> StateStores {
        try StateStores(runs: RunStore(directory: directory, clock: clock), locks: TargetLocks(stateDirectory: directory, clock: clock),
                        flags: flags(in: directory), audit: FileAuditLog(stateDirectory: directory),
                        knowledge: knowledge(in: directory), outbox: outbox(at: defaultOutboxPath(in: directory)))
    }

    /// The knowledge stores of the state directory at `directory`, for a front end or engine part
    /// that needs no other store (selection, learning by default): the same implementation
    /// `files(in:)` chooses, `<state>/knowledge/`, created by the first write. Share `cache`
    /// within one engine (`EngineEnvironment.immuneMemory`).
    public static func knowledge(in directory: String, immuneMemoryCache cache: ImmuneMemoryCache = ImmuneMemoryCache()) -> KnowledgeStores {
        .files(in: KnowledgeBase.defaultDirectory(inState: directory), immuneMemoryCache: cache)
    }

    /// The outbox at `path` (the bus's `outbox:PATH` transport): the same implementation
    /// `files(in:)` chooses.
    public static func outbox(at path: String) -> any EventOutbox { FileOutbox(path: path) }

    /// `<state>/outbox.jsonl`, where the bus publishes unless told otherwise.
    public static func defaultOutboxPath(in directory: String) -> String { (directory as NSString).appendingPathComponent("outbox.jsonl") }

    /// The switches alone, for a command that changes one and needs no other store (`pause`,
    /// `safe-mode`, `breaker reset`): the same implementation `files(in:)` chooses.
    public static func flags(in directory: String) -> any OperatorFlags { FileFlags(stateDirectory: directory) }
}

/// The switches as files of the state directory: `paused.json`, `safe-mode.json` (`OperatorSwitch`)
/// and `breakers.json` (`RemediationBreaker`), each replaced atomically (written beside, fsync'ed,
/// renamed, the directory fsync'ed), each change appended to `audit.jsonl`.
public struct FileFlags: OperatorFlags {
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    func file(_ flag: OperatorFlag) -> OperatorSwitch {
        switch flag {
        case .killSwitch: return .killSwitch(stateDirectory: stateDirectory)
        case .safeMode: return .safeMode(stateDirectory: stateDirectory)
        }
    }

    public func setting(_ flag: OperatorFlag) -> OperatorSwitch.Setting? { file(flag).status() }

    public func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) throws {
        try file(flag).turnOn(by: by, reason: reason, now: now)
    }

    @discardableResult
    public func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) throws -> Bool {
        try file(flag).turnOff(by: by, reason: reason, now: now)
    }

    public func breakerResets() -> [String: RemediationBreaker.Reset] { RemediationBreaker(stateDirectory: stateDirectory).resets() }

    public func resetBreaker(_ playbookID: String, by: String, reason: String?, now: Date) throws {
        try RemediationBreaker(stateDirectory: stateDirectory).reset(playbookID, by: by, reason: reason, now: now)
    }
}

/// The audit log as `<state>/audit.jsonl`: one JSON object a line, appended with one `write`
/// and fsync'ed.
public struct FileAuditLog: AuditLog {
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    public func record(_ fields: [String: String]) throws { try StateFiles.audit(in: stateDirectory, fields) }
}

extension GateContext {
    /// `stores`, else the file-backed switches and locks of `stateDirectory` (the runs come from
    /// `runHistory`).
    var flags: any OperatorFlags { stores?.flags ?? FileFlags(stateDirectory: stateDirectory) }
    var locks: any TargetLocking { stores?.locks ?? TargetLocks(stateDirectory: stateDirectory) }
}
