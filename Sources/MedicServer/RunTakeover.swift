import Foundation
import Logging
import MedicEngine
import ServiceLifecycle

extension IncidentRunner {
    /// One pass of the takeover that several servers sharing a database run on a period: the
    /// firing incidents whose run never started (the instance that opened them died first) are
    /// started (`recover`), and every run left `interrupted` (its instance died or stopped
    /// renewing its lease, which has expired) is resumed here with the resume rules (steps that
    /// finished never run again; the step in flight is run again only when idempotent, else
    /// counted done when its verification passes, else the run is escalated "outcome unknown").
    /// Another server doing the same at once is harmless: a run id is created once, and a run is
    /// taken over by one server (its lease). Returns the runs resumed.
    /// `settled`: incidents younger than that are left to the server that opened them.
    @discardableResult
    public func takeOver(from incidents: any IncidentStoring, settled: Double) async -> Int {
        await recover(from: incidents, settled: settled)
        let (listed, problems) = await stores.runs.list(reconcilingIncidents: false)
        for problem in problems { logger.warning("medic: warning: takeover: \(problem)") }
        // A listing that failed shows nothing going: keep the last one rather than forget it.
        if problems.isEmpty { intake.going.replaceElsewhere(listed) { isGoing($0) } }
        var resumed = 0
        for run in listed where run.status == .interrupted && !isGoing(run.id) && !isStopping {
            if resume(run.id) { resumed += 1 }
        }
        return resumed
    }

    /// Resumes the interrupted run `runID` in the background as one of the runs going.
    private func resume(_ runID: String) -> Bool {
        let (interpreter, stores, logger, metrics) = (interpreter, stores, logger, metrics)
        return carryOut(runID) {
            do {
                logger.notice("taking over interrupted run", metadata: ["run": "\(runID)"])
                let report = try await ExecutionStage(interpreter: interpreter, stores: stores)
                    .resume(runID, observe: metrics?.runObserver(continued: true))
                logger.info("run ended", metadata: ["run": "\(runID)", "outcome": "\(report.outcome?.rawValue ?? report.status.rawValue)"])
            } catch {
                // Another server took it first, or the database is away: the next pass looks again.
                logger.info("interrupted run not taken over", metadata: ["run": "\(runID)", "error": "\(error)"])
            }
        }
    }
}

/// Runs `IncidentRunner.takeOver` every `interval` seconds until the server stops.
struct TakeoverSweep: Service {
    let runner: IncidentRunner
    let incidents: any IncidentStoring
    let interval: Double
    /// Seconds an incident is left to the server that opened it (its lease and its store timeout).
    let settled: Double

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await runner.takeOver(from: incidents, settled: settled)
            // A graceful stop ends the wait (a third of a long lease would hold the stop that long).
            try? await cancelWhenGracefulShutdown { try await Task.sleep(nanoseconds: UInt64(max(interval, 0.05) * 1e9)) }
        }
    }
}
