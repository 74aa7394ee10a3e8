import Foundation
import MedicEngine

/// SIGINT, SIGTERM and SIGHUP during a run: the steps running are ended (their process groups
/// are in sessions of their own, so a terminal's Ctrl-C would not reach them), then Medic exits
/// with 128 + the signal. The run keeps no outcome: `medic runs` shows it interrupted.
enum StopSignals {
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    /// At a signal, the journals of `engine`'s run store stop taking records, then its running
    /// steps (`EngineEnvironment.runningSteps`) are ended.
    static func install(stopping engine: EngineEnvironment) {
        let (runs, steps) = (engine.stores?.runs, engine.runningSteps)
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                MedicLog.log.notice("medic: stopped by signal \(signo); ending the running steps. `medic runs` shows the run as interrupted; `medic resume RUN` continues it.")
                runs?.stopAppending()
                steps.stop()
                exit(128 + signo)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Called where a run of `engine` ends with an error: while a stop is under way, its handler exits.
    static func waitIfStopping(_ engine: EngineEnvironment) {
        while engine.stores?.runs.isStopping == true { sleep(1) }
    }
}
