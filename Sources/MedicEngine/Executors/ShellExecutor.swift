import CMedicSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs shell steps as real processes, each in a session and process group of its own, so that a
/// timeout or the end of the step reaches every process it started.
///
/// Traps it avoids: Foundation's `Process` can start a child with SIGTERM blocked (the child
/// inherits the spawning thread's mask), so the signal mask and dispositions are reset here; and
/// a grandchild that keeps stdout open would make "read until EOF" hang, so output is read only
/// until the shell has exited, after which the group is ended and the pipes drained briefly.
public enum ShellExecutor {
    /// glibc's POSIX_SPAWN_SETSID (2.26+), not exported by the Swift Glibc module.
    private static let spawnSetSID: Int32 = 0x80

    /// `$TMPDIR`, else `/tmp`.
    private static let temporaryDirectory: String = {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        return dir.isEmpty ? "/tmp" : (dir.hasSuffix("/") && dir.count > 1 ? String(dir.dropLast()) : dir)
    }()

    /// Runs `command` to its end. `started` is told the shell's pid as soon as it exists (while it
    /// is not reaped, so `/proc` still describes it). While it runs, its process group is in
    /// `running` (an engine's steps, which its `RunningSteps.stop` ends).
    public static func run(_ command: ShellCommand, running: RunningSteps? = nil, started: ((Int32) -> Void)? = nil) throws -> ShellResult {
        // The step's $MEDIC_OUTPUT: a new file only this user can read (O_EXCL: never one that
        // someone else prepared), removed when the step is over.
        let outputFile = temporaryDirectory + "/medic-output-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let outputFD = open(outputFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard outputFD >= 0 else {
            throw ExecutorError("cannot create the step's output file \(outputFile): \(String(cString: strerror(errno)))")
        }
        close(outputFD)
        defer { unlink(outputFile) }

        var environment: [String: String] = [:]
        let own = ProcessInfo.processInfo.environment
        for name in command.inheritedVariables { if let value = own[name] { environment[name] = value } }
        for (name, value) in command.parameters { environment[name] = value }
        environment["MEDIC_OUTPUT"] = outputFile

        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw ExecutorError("pipe: \(String(cString: strerror(errno)))")
        }
        // Close-on-exec, so another step spawned at the same moment does not inherit these ends.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A step gets standard input, output and error, and no other descriptor of Medic's:
        // not one Medic inherited without close-on-exec from whoever started it (a pipe its
        // parent waits on would then stay open as long as the step's slowest descendant).
        closeOnExecInherited()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(spawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // The working directory reaches the shell as an argument ($0), never as script text.
        let words: [String] = command.workingDirectory.map {
            ["/bin/sh", "-c", "cd -- \"$0\" || exit 126; exec /bin/sh -c \"$1\"", $0, command.script]
        } ?? ["/bin/sh", "-c", command.script]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        guard running?.willSpawn() ?? true else {
            (outPipe + errPipe).forEach { close($0) }
            throw ExecutorError("Medic is stopping: the step was not started")
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        // Registered before anything else can happen: a stop under way waits for it.
        running?.didSpawn(spawned == 0 ? pid : nil)
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw ExecutorError("cannot start /bin/sh: \(String(cString: strerror(spawned)))")
        }

        started?(pid)
        var stdout = BoundedBuffer(limit: command.outputLimit), stderr = BoundedBuffer(limit: command.outputLimit)
        var open = [outPipe[0], errPipe[0]]
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        // Readable when the shell exits, so the wait below wakes at once instead of polling. (The
        // pid cannot have been reused: the shell is our child and not reaped yet.)
        let exitFD = medic_pidfd_open(pid)
        defer { if exitFD >= 0 { close(exitFD) } }
        // Without a pidfd (Linux < 5.3), once both pipes are closed: naps from 20 µs to 5 ms.
        var nap: useconds_t = 20
        func readAvailable(waitMilliseconds: Int32) {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if exitFD >= 0 { fds.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
            guard !fds.isEmpty else {
                usleep(nap)
                nap = min(nap * 2, 5000)
                return
            }
            guard poll(&fds, nfds_t(fds.count), waitMilliseconds) > 0 else { return }
            for entry in fds where entry.revents != 0 && entry.fd != exitFD {
                let count = read(entry.fd, &chunk, chunk.count)
                if count > 0 {
                    if entry.fd == outPipe[0] { stdout.append(chunk[0..<count]) } else { stderr.append(chunk[0..<count]) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }

        var timedOut = false
        var killAt: Double?
        while true {
            readAvailable(waitMilliseconds: 20)
            // Look without reaping: while the shell is an unreaped zombie its pid, and so its group
            // id, cannot be reused, so the group kill below cannot reach an unrelated process.
            var info = siginfo_t()
            let looked = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if looked == 0, info._sifields._sigchld.si_pid == pid { break }
            // ECHILD: the shell is no longer ours to wait for (SIGCHLD ignored reaps it); never spin.
            if looked == -1 && errno == ECHILD { break }
            let now = elapsed()
            if let timeout = command.timeout, !timedOut, now >= timeout {
                timedOut = true
                kill(-pid, SIGTERM)
                killAt = now + command.gracePeriod
            }
            if let deadline = killAt, now >= deadline {
                kill(-pid, SIGKILL)
                killAt = nil
            }
        }
        // The shell is gone; whatever it left in its group goes with it (a step owns its processes).
        kill(-pid, SIGKILL)
        // Forget the group before reaping its leader: once reaped, its id may be reused.
        running?.remove(pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // Drain what is already in the pipes, without waiting on a writer that may never close them.
        let drainUntil = elapsed() + 0.2
        while !open.isEmpty && elapsed() < drainUntil { readAvailable(waitMilliseconds: 10) }
        open.forEach { close($0) }

        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        // Outputs pass unchanged or not at all: bytes that are not UTF-8 are never replaced.
        var outputs: [String: String] = [:]
        var outputProblem: String?
        if let bytes = FileManager.default.contents(atPath: outputFile), !bytes.isEmpty {
            if let text = String(validating: bytes, as: UTF8.self) {
                outputs = parseOutputs(text)
            } else {
                let line = bytes.prefix { $0 != 0 }.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    .firstIndex { String(validating: $0, as: UTF8.self) == nil }.map { $0 + 1 } ?? 1
                outputProblem = "line \(line) of $MEDIC_OUTPUT is not UTF-8; no output of this step was taken"
            }
        }
        return ShellResult(
            exitStatus: signaled ? nil : (status >> 8) & 0xff, signal: signaled ? status & 0x7f : nil, timedOut: timedOut,
            stdout: stdout.text, stderr: stderr.text, stdoutTruncated: stdout.truncated, stderrTruncated: stderr.truncated,
            seconds: elapsed(), outputs: outputs, outputProblem: outputProblem)
    }

    /// Marks every open descriptor above standard error close-on-exec.
    private static func closeOnExecInherited() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for entry in entries {
            guard let fd = Int32(entry), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// `key=value` lines; later lines win; lines without `=` or with a bad key are ignored.
    static func parseOutputs(_ text: String) -> [String: String] {
        var outputs: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            guard let first = key.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first),
                  key.unicodeScalars.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            else { continue }
            outputs[key] = String(line[line.index(after: eq)...])
        }
        return outputs
    }
}

/// The process groups (the shells' pids) of one engine's shell steps running now
/// (`EngineEnvironment.runningSteps`): stopping an engine ends its steps and no other engine's.
public final class RunningSteps: @unchecked Sendable {
    private let condition = NSCondition()
    private var groups: Set<pid_t> = []
    /// Spawns between `willSpawn` and `didSpawn`: a step whose pid is not known yet.
    private var spawning = 0
    private var stopped = false

    public init() {}

    /// Called right before a spawn; false once `stop` was called (the step must not start).
    func willSpawn() -> Bool {
        condition.withLock {
            guard !stopped else { return false }
            spawning += 1
            return true
        }
    }

    /// Called right after the spawn that `willSpawn` allowed, with its process group (nil: it failed).
    func didSpawn(_ group: pid_t?) {
        condition.withLock {
            if let group { groups.insert(group) }
            spawning -= 1
            condition.broadcast()
        }
    }

    func insert(_ group: pid_t) { _ = condition.withLock { groups.insert(group) } }
    func remove(_ group: pid_t) { _ = condition.withLock { groups.remove(group) } }
    /// The process groups running now.
    public var all: [pid_t] { condition.withLock { Array(groups) } }

    /// Ends every shell step running now, as Medic must when it is itself told to stop (SIGINT,
    /// SIGTERM): SIGTERM to each step's process group, then SIGKILL after `grace` seconds. Stop
    /// the journal's appends first, so their runs stay without an outcome. No step starts after
    /// this, and a step being spawned at this moment (its process may already run, its pid not
    /// yet registered) is waited for, up to 2 s, so that it is ended with the others.
    public func stop(grace: Double = 1) {
        condition.withLock {
            stopped = true
            let until = Date(timeIntervalSinceNow: 2)
            while spawning > 0 && condition.wait(until: until) {}
        }
        let groups = all
        guard !groups.isEmpty else { return }
        for group in groups { kill(-group, SIGTERM) }
        usleep(useconds_t(max(0, min(grace, 10)) * 1e6))
        for group in all { kill(-group, SIGKILL) }
    }
}

/// Keeps the last `limit` bytes written to it.
struct BoundedBuffer {
    let limit: Int
    private var bytes: [UInt8] = []
    private(set) var truncated = false

    init(limit: Int) { self.limit = limit }

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit {
            bytes.removeFirst(bytes.count - limit)
            truncated = true
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}
