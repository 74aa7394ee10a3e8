import Foundation
import MedicKnowledge
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// Locks on targets, so two runs never remediate the same target at once, across processes:
/// one file a target under `<state>/locks/`, held with `flock` by the process running the run.
/// The kernel releases a lock when its process dies, however it dies, so a dead run's lock is
/// taken over safely by the next run; the file's content (run, pid, host, since) says who holds
/// it, for people.
public struct TargetLocks: Sendable {
    public struct Holder: Sendable, Hashable, Codable {
        public var run: String
        public var pid: Int32
        public var host: String
        public var since: String
        /// The target's whole name (its file name may be shortened); absent in older files.
        public var target: String?

        public init(run: String, pid: Int32, host: String, since: String, target: String? = nil) {
            self.run = run
            self.pid = pid
            self.host = host
            self.since = since
            self.target = target
        }
    }

    public let directory: String
    /// Times a wait for a held lock (`acquire`'s `wait`) and sleeps between looks.
    public let clock: any EngineClock

    public init(stateDirectory: String, clock: any EngineClock = SystemClock()) {
        directory = stateDirectory + "/locks"
        self.clock = clock
    }

    /// The names a plan locks: its targets, or this host when it names none.
    public static func names(for plan: Plan) -> [String] {
        let names = plan.targets.isEmpty ? ["host:" + ProcessInfo.processInfo.hostName] : plan.targets.map(\.name)
        return Array(Set(names)).sorted()  // one order for everyone: no two runs wait on each other in a circle
    }

    /// The lock file of a target. Every name gets a file of its own, whatever its length or
    /// characters: the name's UTF-8 bytes outside `[A-Za-z0-9._-]` are written `%XX` (so the
    /// mapping is one-to-one, and a leading dot is escaped too), and a name whose escaped form
    /// is longer than `maxReadableName` bytes keeps a readable prefix followed by `~` and the
    /// SHA-256 of the whole name (`~` never appears in an escaped name, so such a file cannot
    /// be another name's). File names stay under NAME_MAX (255 bytes) with `.lock` added.
    func path(_ name: String) -> String {
        directory + "/" + Self.fileName(name)
    }

    static let maxReadableName = 200

    static func fileName(_ name: String) -> String {
        var escaped = ""
        for byte in name.utf8 {
            let allowed = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || (byte == 0x2E && !escaped.isEmpty)
            escaped += allowed ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        guard escaped.utf8.count > maxReadableName else { return escaped + ".lock" }
        let digest = SHA256Hex.of(Array(name.utf8))
        return String(escaped.prefix(maxReadableName - 65)) + "~" + digest + ".lock"
    }

    /// Who holds each of `names` now (nil: free). Looks without taking anything.
    public func holders(of names: [String]) -> [(name: String, holder: Holder?)] {
        names.map { name in
            let fd = open(path(name), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return (name, nil) }
            defer { close(fd) }
            // A shared lock succeeds only when nobody holds the exclusive one.
            if flock(fd, LOCK_SH | LOCK_NB) == 0 {
                flock(fd, LOCK_UN)
                return (name, nil)
            }
            let data = FileManager.default.contents(atPath: path(name)) ?? Data()
            return (name, (try? JSONDecoder().decode(Holder.self, from: data)) ?? Holder(run: "?", pid: 0, host: "?", since: "?"))
        }
    }

    /// Takes every lock of `names` for `run`, waiting up to `wait` seconds for each; throws
    /// `JournalError` naming the holder when one stays taken (the locks already taken are released).
    ///
    /// Waiting polls every 100 ms and sleeps as a task, never holding a thread: runs waiting for
    /// a target must not starve the run that holds it (a watch starts concurrent runs in one
    /// process, whose thread pool has as many threads as cores).
    public func acquire(_ names: [String], run: String, wait: Double = 0, now: Date) async throws -> TargetLease {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var held: [Int32] = []
        for name in names {
            let fd = open(path(name), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                held.forEach { close($0) }
                throw JournalError("cannot open the lock of target \(name): \(String(cString: strerror(errno)))")
            }
            let deadline = clock.now.addingTimeInterval(wait)
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard clock.now < deadline else {
                    let holder = holders(of: [name]).first?.holder
                    close(fd)
                    held.forEach { close($0) }
                    let who = holder.map { "run \($0.run) (pid \($0.pid) on \($0.host), since \($0.since))" } ?? "another run"
                    throw JournalError("target \(name) is being remediated by \(who)")
                }
                try? await clock.sleep(seconds: 0.1)
            }
            let holder = Holder(run: run, pid: getpid(), host: ProcessInfo.processInfo.hostName, since: JournalRecord.timestamp(now),
                                target: name)
            if let data = try? JSONEncoder().encode(holder) {
                _ = ftruncate(fd, 0)
                _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            }
            held.append(fd)
        }
        let descriptors = held
        return TargetLease(names: names) { descriptors.forEach { close($0) } }
    }
}

/// Locks held for a run; released by `release()` (a run gives its targets back once its outcome
/// is on record) or when the lease is dropped (or, for file locks, when the process ends).
public final class TargetLease: Sendable {
    public let names: [String]
    private let giveBack: @Sendable () -> Void
    private let released = GuardLocked(false)

    /// `release` gives the locks back; called once, at `release()` or when the lease is dropped.
    public init(names: [String], release: @escaping @Sendable () -> Void) {
        self.names = names
        self.giveBack = release
    }

    /// Gives the locks back now; later calls (and the drop) do nothing.
    public func release() {
        let first: Bool = released.update { was in
            defer { was = true }
            return !was
        }
        if first { giveBack() }
    }

    deinit { release() }
}

/// Gate 4: the run's targets are free (the run takes their locks before its first step; this
/// verdict is what the plan shows, and the run's own acquisition has the last word).
public struct TargetLockGate: Gate {
    public let name = GateID.targetLock
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let locks = context.locks
        let names = TargetLocks.names(for: context.plan)
        let taken = await locks.holders(of: names).compactMap { entry in entry.holder.map { (entry.name, $0) } }
        guard let (target, holder) = taken.first else { return .pass(name, "free: \(names.joined(separator: ", "))") }
        if context.lockWait > 0 {
            return .pass(name, "target \(target) is held by run \(holder.run) (pid \(holder.pid)); the run waits up to "
                + "\(Interval.trim(context.lockWait))s for it")
        }
        return .refuse(name, "target \(target) is being remediated by run \(holder.run) (pid \(holder.pid) on \(holder.host), since \(holder.since))")
    }
}
