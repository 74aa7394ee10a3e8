import Foundation
import MedicKnowledge

/// The stores of one engine, chosen in one place: the front end builds this value and hands it
/// down; everything below asks the protocols. `files(in:)` gives the state directory's
/// file-backed stores, today's behaviour and crash guarantees.
public struct StateStores: Sendable {
    /// The runs, their journals and index.
    public var runs: any RunStoring
    public var locks: any TargetLocking
    public var flags: any OperatorFlags
    public var audit: any AuditLog
    /// The knowledge base and immune memory: what runs learn into and selection reads.
    public var knowledge: KnowledgeStores
    /// Where the bus's `outbox` transport appends its events.
    public var outbox: any EventOutbox

    public init(runs: any RunStoring, locks: any TargetLocking, flags: any OperatorFlags, audit: any AuditLog,
                knowledge: KnowledgeStores, outbox: any EventOutbox) {
        self.runs = runs
        self.locks = locks
        self.flags = flags
        self.audit = audit
        self.knowledge = knowledge
        self.outbox = outbox
    }

    /// The file-backed stores of the state directory at `directory` (created when missing),
    /// timed by `clock`; the immune memory kept in `immuneMemoryCache` between reads.
    public static func files(in directory: String, clock: any EngineClock = SystemClock(),
                             immuneMemoryCache: ImmuneMemoryCache = ImmuneMemoryCache()) throws -> StateStores {
        files(try RunStore(directory: directory, clock: clock), immuneMemoryCache: immuneMemoryCache)
    }

    /// The file-backed stores of the state directory of `runs`, an open run store, on its clock.
    public static func files(_ runs: RunStore, immuneMemoryCache: ImmuneMemoryCache = ImmuneMemoryCache()) -> StateStores {
        let audit = FileAuditLog(stateDirectory: runs.directory)
        return StateStores(runs: runs, locks: TargetLocks(stateDirectory: runs.directory, clock: runs.clock),
                           flags: FileFlags(stateDirectory: runs.directory, audit: audit), audit: audit,
                           knowledge: knowledge(in: runs.directory, immuneMemoryCache: immuneMemoryCache), outbox: outbox(at: defaultOutboxPath(in: runs.directory)))
    }

    /// The file-backed stores of `directory` when it holds runs; nil, and nothing created, when
    /// it does not (a state directory no run has used yet).
    public static func existing(in directory: String) -> StateStores? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory + "/runs", isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        return try? files(in: directory)
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
    /// Where each change is recorded.
    public let audit: any AuditLog

    /// `audit`: nil, the state directory's `audit.jsonl` (`FileAuditLog`).
    public init(stateDirectory: String, audit: (any AuditLog)? = nil) {
        self.stateDirectory = stateDirectory
        self.audit = audit ?? FileAuditLog(stateDirectory: stateDirectory)
    }

    func file(_ flag: OperatorFlag) -> OperatorSwitch {
        switch flag {
        case .killSwitch: return .killSwitch(stateDirectory: stateDirectory, audit: audit)
        case .safeMode: return .safeMode(stateDirectory: stateDirectory, audit: audit)
        }
    }

    public func setting(_ flag: OperatorFlag) -> OperatorSwitch.Setting? { file(flag).status() }

    public func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws {
        try await file(flag).turnOn(by: by, reason: reason, now: now)
    }

    @discardableResult
    public func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws -> Bool {
        try await file(flag).turnOff(by: by, reason: reason, now: now)
    }

    public func breakerResets() -> [String: RemediationBreaker.Reset] { RemediationBreaker(stateDirectory: stateDirectory).resets() }

    public func resetBreaker(_ playbookID: String, by: String, reason: String?, now: Date) async throws {
        try await RemediationBreaker(stateDirectory: stateDirectory, audit: audit).reset(playbookID, by: by, reason: reason, now: now)
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
    /// The stores' switches, else the file-backed ones of `stateDirectory`.
    var flags: any OperatorFlags { stores?.flags ?? FileFlags(stateDirectory: stateDirectory) }
    /// The stores' target locks, else the file-backed ones of `stateDirectory`.
    var locks: any TargetLocking { stores?.locks ?? TargetLocks(stateDirectory: stateDirectory) }
    /// The stores' runs, else the index of the state directory's runs (refreshed; none, and
    /// nothing created, when the directory has no runs). `GatePipeline.evaluate` opens the
    /// state directory's stores once, so its gates see one state.
    var runHistory: any RunHistory { stores?.runs ?? RunStore.runHistory(in: stateDirectory) }
}
