import Foundation
import MedicEngine

/// SIGINT, SIGTERM and SIGHUP during a run: the steps running are ended (their process groups
/// are in sessions of their own, so a terminal's Ctrl-C would not reach them), then Medic exits
/// with 128 + the signal. The run keeps no outcome: `medic runs` shows it interrupted.
enum StopSignals {
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    /// The store whose journals stop taking records at a signal (`EngineOptions.store()` sets it).
    nonisolated(unsafe) static var store: RunStore?

    /// `steps`: the running steps of the command's engine (`EngineEnvironment.runningSteps`).
    static func install(stopping steps: RunningSteps) {
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                MedicLog.log.notice("medic: stopped by signal \(signo); ending the running steps. `medic runs` shows the run as interrupted; `medic resume RUN` continues it.")
                store?.stopAppending()
                steps.stop()
                exit(128 + signo)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Called where a run ends with an error: while a stop is under way, its handler exits.
    static func waitIfStopping() {
        while store?.isStopping == true { sleep(1) }
    }
}
