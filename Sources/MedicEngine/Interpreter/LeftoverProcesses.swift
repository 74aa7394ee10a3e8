import Foundation
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// The processes that a killed Medic's steps left running. A step's shell runs in a session of
/// its own, so it outlives the Medic that started it; before `medic resume` decides anything
/// about a step, that step's earlier attempt must be over, or the step would run twice at once.
///
/// **Which processes**: alive (not a zombie), not this process, and either with
/// `MEDIC_RUN_ID=<run>` in their environment (every step process and its descendants inherit
/// it), or a member of the session or process group of a journaled step shell (`step_process`)
/// of this boot, started no earlier than that shell, while the shell's pid is either gone (the
/// kernel does not give a pid to a new process while a session or group of that id has a
/// member) or still that same shell (the same start time).
///
/// **The rule**: each is given until its own step's timeout, counted from the step's journaled
/// start (`step_started`), to end by itself, as the Medic that started it would have allowed;
/// one still running then gets SIGTERM, and SIGKILL `grace` seconds later. Only once none is
/// left does resume go on. The deadlines are read on the engine's clock (the journal's
/// timestamps come from it); the looks between them are real pauses: these are real processes.
struct LeftoverProcesses: Sendable {
    /// What was found and what became of it.
    struct Settlement: Sendable, Equatable {
        var found: [StepProcess]
        /// Those that got SIGTERM, and SIGKILL.
        var terminated: [Int32] = []
        var killed: [Int32] = []
        var waited: Double = 0

        private func tenths(_ seconds: Double) -> Double { (seconds * 10).rounded() / 10 }

        var summary: String {
            let count = found.count == 1 ? "1 process" : "\(found.count) processes"
            if terminated.isEmpty {
                return "\(count) left by the earlier attempt ended by \(found.count == 1 ? "itself" : "themselves") after \(Interval.trim(tenths(waited)))s; nothing was stopped"
            }
            var text = "\(count) left by the earlier attempt: \(terminated.count) still running at their step's timeout got SIGTERM"
            if !killed.isEmpty { text += ", \(killed.count) of them SIGKILL \(Interval.trim(LeftoverProcesses.defaultGrace))s later" }
            return text + " (waited \(Interval.trim(tenths(waited)))s)"
        }
    }

    /// The shell executor's grace period between SIGTERM and SIGKILL.
    static let defaultGrace: Double = 5

    let runID: String
    /// The run's journaled `step_process` identities.
    let journaled: [StepProcess]
    /// When the step a process belongs to reaches its timeout (by its `MEDIC_STEP` token).
    let deadline: @Sendable (String?) -> Date
    /// The engine's clock: what "now" is against the deadlines.
    let clock: any EngineClock
    var grace: Double = defaultGrace
    /// How long a process may survive SIGKILL (one in uninterruptible sleep) before resume gives up.
    var killWait: Double = 10

    /// The run's processes alive now.
    func find() -> [StepProcess] {
        let me = getpid()
        let boot = ProcFiles.bootID
        let shells = journaled.filter { $0.bootID == boot && !boot.isEmpty }
        let marker = "\(StepProcess.runVariable)=\(runID)"
        var found: [StepProcess] = []
        for pid in ProcessEntry.all() where pid != me {
            guard let entry = ProcessEntry.read(pid), entry.isAlive else { continue }
            let environment = ProcFiles.environment(pid)
            if environment.contains(where: { $0 == marker }) {
                let step = environment.first { $0.hasPrefix(StepProcess.stepVariable + "=") }
                    .map { String($0.dropFirst(StepProcess.stepVariable.count + 1)) }
                found.append(StepProcess(pid: pid, startTicks: entry.startTicks, bootID: boot, token: step,
                                         command: ProcFiles.command(pid)))
                continue
            }
            for shell in shells where (entry.session == shell.pid || entry.group == shell.pid) && entry.startTicks >= shell.startTicks {
                if let leader = ProcessEntry.read(shell.pid), leader.startTicks != shell.startTicks { continue }
                found.append(StepProcess(pid: pid, startTicks: entry.startTicks, bootID: boot, token: shell.token,
                                         command: ProcFiles.command(pid)))
                break
            }
        }
        return found
    }

    /// Waits for the run's processes to end, stopping those still running at their step's
    /// timeout. `found` is what `find()` returned first (not empty). Throws when one survives
    /// SIGKILL for `killWait` seconds.
    func settle(_ found: [StepProcess]) async throws -> Settlement {
        var settlement = Settlement(found: found)
        let start = clock.now
        var termSent: [Int32: Date] = [:]
        var killSent: [Int32: Date] = [:]
        var alive = found
        var seen = Set(found.map(\.pid))
        while !alive.isEmpty {
            let now = clock.now
            for process in alive {
                if let killedAt = killSent[process.pid] {
                    if now.timeIntervalSince(killedAt) > killWait {
                        throw JournalError("process \(process.pid) (\(process.command ?? "?")) of run \(runID)'s earlier attempt is still alive "
                            + "\(Interval.trim(killWait))s after SIGKILL; the run is left as it was: resume it once the process is gone")
                    }
                } else if let termAt = termSent[process.pid], now.timeIntervalSince(termAt) >= grace {
                    kill(process.pid, SIGKILL)
                    killSent[process.pid] = now
                    settlement.killed.append(process.pid)
                } else if termSent[process.pid] == nil && now >= deadline(process.token) {
                    kill(process.pid, SIGTERM)
                    termSent[process.pid] = now
                    settlement.terminated.append(process.pid)
                }
            }
            // Each look reads every process's environment: a tenth of a second between looks
            // keeps that cheap, and nothing here needs to be quicker (deadlines are seconds).
            try await Task.sleep(nanoseconds: 100_000_000)
            alive = find()
            for process in alive where !seen.contains(process.pid) {
                seen.insert(process.pid)
                settlement.found.append(process)
            }
        }
        settlement.waited = clock.now.timeIntervalSince(start)
        return settlement
    }
}
