import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a playbook of many steps through the `medic` binary and SIGKILLs Medic at random
/// moments — during `medic run` and during each `medic resume` — resuming until the run
/// finishes, then checks from the steps' own side effects that nothing ran twice: shared by the
/// CLI tests (a few dozen kills) and `MedicBench kill-torture` (a thousand).
///
/// The playbook has `steps` steps; odd ones are idempotent (they append their line only when it
/// is missing), even ones are not (they append it blindly) and have an action verification that
/// looks for the line. Every step takes an exclusive `flock` on its own lock file while it runs
/// and writes to `overlaps` when it cannot: two copies of one step alive at once.
public struct KillTorture {
    public struct Report: Sendable {
        public var runs = 0
        public var kills = 0
        /// Kills that hit a `medic resume` (the rest hit `medic run`).
        public var killsDuringResume = 0
        /// Kills before the run's journal had its `run_started`, after which the run started again.
        public var killsBeforeStart = 0
        /// `orphans_found` records: resumes that found a killed Medic's step still running.
        public var orphansFound = 0
        /// Of those, how many had to be stopped at their step's timeout.
        public var orphansStopped = 0
        /// In-flight steps that resume counted as done after their action's verification passed.
        public var verified = 0
        /// In-flight steps that resume ran again.
        public var rerun = 0
        public var outcomes: [String: Int] = [:]
        /// Every broken promise, with the run's folder: empty when the torture found nothing.
        public var violations: [String] = []

        public init() {}

        public mutating func add(_ other: Report) {
            runs += other.runs
            kills += other.kills
            killsDuringResume += other.killsDuringResume
            killsBeforeStart += other.killsBeforeStart
            orphansFound += other.orphansFound
            orphansStopped += other.orphansStopped
            verified += other.verified
            rerun += other.rerun
            outcomes.merge(other.outcomes, uniquingKeysWith: +)
            violations += other.violations
        }
    }

    public let medic: String
    public let directory: URL
    public let steps: Int
    /// Seconds each step sleeps before and after its effect; every `slowEvery`th step sleeps
    /// `slowPause` before its effect instead, longer than Medic takes to start, so that a resume
    /// often finds the step its killed predecessor started still running.
    public let pause: Double
    public let slowPause: Double
    public let slowEvery: Int

    public init(medic: String, directory: URL, steps: Int = 20, pause: Double = 0.04, slowPause: Double = 0.6, slowEvery: Int = 3) {
        self.medic = medic
        self.directory = directory
        self.steps = steps
        self.pause = pause
        self.slowPause = slowPause
        self.slowEvery = slowEvery
    }

    /// `runs` runs, each killed at most `maxKills` times at a moment drawn uniformly from
    /// `killWindow` seconds after its process started; `progress` hears one line per run.
    public func run(runs: Int, maxKills: Int, killWindow: ClosedRange<Double>,
                             progress: ((String) -> Void)? = nil) throws -> Report {
        var report = Report()
        try writeLibrary()
        for index in 1...runs {
            let folder = directory.appendingPathComponent("run-\(index)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let before = report.kills
            try torture(folder, maxKills: maxKills, killWindow: killWindow, report: &report)
            report.runs += 1
            progress?("run \(index): \(report.kills - before) kills; \(report.violations.count) violations so far")
        }
        return report
    }

    private func invocation(_ arguments: [String], folder: URL) -> [String] {
        arguments + ["--root", directory.path, "--state-dir", folder.appendingPathComponent("state").path]
    }

    private func torture(_ folder: URL, maxKills: Int, killWindow: ClosedRange<Double>, report: inout Report) throws {
        let parameters = ["--param", "log=\(folder.path)/log", "--param", "dir=\(folder.path)"]
        var kills = 0
        var finished = false
        while !finished {
            let runID = journalID(folder)
            let arguments = runID.map { invocation(["resume", $0, "--yes"], folder: folder) }
                ?? invocation(["run", "torture-001"] + parameters, folder: folder)
            let delay = kills < maxKills ? Double.random(in: killWindow) : nil
            let (status, killed) = try launch(arguments, killAfter: delay, folder: folder)
            if killed {
                kills += 1
                report.kills += 1
                if runID != nil { report.killsDuringResume += 1 }
                if let id = journalID(folder), !hasRunStarted(folder, id) {
                    // Killed before the run existed: it starts again from nothing.
                    try? FileManager.default.removeItem(atPath: journalPath(folder, id))
                    report.killsBeforeStart += 1
                }
                continue
            }
            guard let id = journalID(folder) else {
                report.violations.append("\(folder.path): medic \(arguments[0]) exited \(status) and left no run")
                return
            }
            let records = readJournal(folder, id)
            guard let end = records.last(where: { $0["event"] as? String == "run_finished" }) else {
                report.violations.append("\(folder.path): medic \(arguments[0]) exited \(status) but run \(id) has no outcome: "
                    + ((try? String(contentsOf: folder.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""))
                return
            }
            finished = true
            let outcome = end["outcome"] as? String ?? "?"
            report.outcomes[outcome, default: 0] += 1
            for record in records {
                let message = record["message"] as? String ?? ""
                switch record["event"] as? String {
                case "orphans_found": report.orphansFound += 1
                case "orphans_ended" where message.contains("SIGTERM"): report.orphansStopped += 1
                case "run_resumed" where message.contains("verification passed"): report.verified += 1
                case "run_resumed" where message.contains("runs again"): report.rerun += 1
                default: break
                }
            }
            if outcome != "succeeded" {
                report.violations.append("\(folder.path): run \(id) ended \(outcome): \(end["message"] as? String ?? "")")
            }
        }
        check(folder, report: &report)
    }

    /// Every step's line exactly once, and no two copies of a step at once.
    private func check(_ folder: URL, report: inout Report) {
        let log = (try? String(contentsOf: folder.appendingPathComponent("log"), encoding: .utf8)) ?? ""
        var counts: [String: Int] = [:]
        for line in log.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        for step in 1...steps {
            let tag = "s\(step)"
            let count = counts[tag] ?? 0
            if count != 1 {
                report.violations.append("\(folder.path): step \(step) (\(step % 2 == 0 ? "not idempotent" : "idempotent")) "
                    + (count == 0 ? "never took effect in a succeeded run" : "took effect \(count) times"))
            }
        }
        if let overlaps = try? String(contentsOf: folder.appendingPathComponent("overlaps"), encoding: .utf8), !overlaps.isEmpty {
            report.violations.append("\(folder.path): two copies of a step were alive at once: \(overlaps.split(separator: "\n").joined(separator: ", "))")
        }
    }

    /// Runs medic; SIGKILLs it `killAfter` seconds after it started if it is still running.
    /// posix_spawn and waitpid rather than Foundation's `Process`, whose `waitUntilExit` notices
    /// an exit up to half a second late: long enough for a killed Medic's steps to end before
    /// the resume that should find them starts.
    private func launch(_ arguments: [String], killAfter: Double?, folder: URL) throws -> (status: Int32, killed: Bool) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, folder.path + "/stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let words = [medic] + arguments
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, medic, &actions, nil, argv, environ)
        guard spawned == 0 else { throw TortureError("cannot start \(medic): \(String(cString: strerror(spawned)))") }
        let start = ContinuousClock.now
        // Bounded whatever happens: a resume waits at most for a step's timeout (300 s).
        let limit = 600.0
        var status: Int32 = 0
        var killed = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped == -1 && errno != EINTR { throw TortureError("waitpid: \(String(cString: strerror(errno)))") }
            let elapsed = Self.seconds(ContinuousClock.now - start)
            if !killed, let killAfter, elapsed >= killAfter {
                kill(pid, SIGKILL)
                killed = true
            } else if !killed && elapsed > limit {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                throw TortureError("medic \(arguments.joined(separator: " ")) did not finish in \(Int(limit)) s")
            }
            usleep(500)
        }
        let signaled = (status & 0x7f) != 0
        return (signaled ? 128 + (status & 0x7f) : (status >> 8) & 0xff, killed && signaled && (status & 0x7f) == SIGKILL)
    }

    private func journalPath(_ folder: URL, _ id: String) -> String { folder.path + "/state/runs/\(id).jsonl" }

    private func journalID(_ folder: URL) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/state/runs")) ?? []
        return names.first { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(6)) }
    }

    private func hasRunStarted(_ folder: URL, _ id: String) -> Bool {
        readJournal(folder, id).contains { $0["event"] as? String == "run_started" }
    }

    private func readJournal(_ folder: URL, _ id: String) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: journalPath(folder, id)) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
        }
    }

    private func writeLibrary() throws {
        let guardStep = #"exec 9>>"${dir}/lock-${tag}"; flock -n 9 || echo "${tag}" >> "${dir}/overlaps""#
        let actions = """
            actions:
              mark:
                type: infrastructure
                risk_level: low
                description: Idempotent, by construction.
                parameters: {tag: required, log: required, dir: required, pause: required, wait: required}
                implementation: |
                  \(guardStep)
                  sleep "${wait}"
                  grep -qx "${tag}" "${log}" 2>/dev/null || printf '%s\\n' "${tag}" >> "${log}"
                  sleep "${pause}"
              append:
                type: infrastructure
                risk_level: medium
                idempotent: false
                parameters: {tag: required, log: required, dir: required, pause: required, wait: required}
                implementation: |
                  \(guardStep)
                  sleep "${wait}"
                  printf '%s\\n' "${tag}" >> "${log}"
                  sleep "${pause}"
                verification: grep -qx "${tag}" "${log}"

            """
        var playbook = """
            playbook_id: torture-001
            name: Twenty steps, half of them not idempotent
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              log: {type: string, required: true}
              dir: {type: string, required: true}
            remediation_steps:

            """
        for step in 1...steps {
            playbook += "  - {step: \(step), name: s\(step), action: \(step % 2 == 0 ? "append" : "mark"), tag: s\(step), pause: \"\(pause)\", wait: \"\(step % slowEvery == 0 ? slowPause : pause)\"}\n"
        }
        playbook += "metadata: {}\n"
        for (folder, name, text) in [("actions", "torture.yaml", actions), ("playbooks", "torture.yaml", playbook)] {
            let dir = directory.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    /// A duration of the monotonic clock in seconds (the time a child has run, not the time of day).
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

public struct TortureError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
