import Foundation
import MedicKnowledge

/// Everything an engine shares between its runs, watches and metric sources that is not a
/// parameter of one call: its clock, its HTTP client, its threads for blocking work, the shell
/// steps it has running, its memory of the immune memory document, where its warnings go, its
/// state stores and the directory of its knowledge base and outbox. A front end (the CLI; later a server) builds one per engine and passes it
/// down; nothing of it is process-wide, so two engines on two state directories can run in one
/// process without seeing each other (stopping one ends its own steps only).
public struct EngineEnvironment: Sendable {
    /// Every "now" of the engine, and every wait it makes.
    public var clock: any EngineClock
    /// The engine's runs, target locks, switches and audit log, chosen once by the front end
    /// (`StateStores.files(in:clock:)`; a server passes its database stores here). Nil for an
    /// engine that is only given stores call by call (tests, embedding).
    public var stores: StateStores?
    /// Where the files still kept by path live (the knowledge base, the bus outbox); nil as
    /// `stores`.
    public var stateDirectory: String?
    /// The client of the http and bus executors and of the Prometheus metric sources, configured
    /// for remediation (no connection retries, no redirects). `shutdown()` closes it.
    public let http: EngineHTTPClient
    /// The threads a shell step's process is waited on.
    public let blockingPool: BlockingPool
    /// The process groups of this engine's shell steps running now; `runningSteps.stop()` ends them.
    public let runningSteps: RunningSteps
    /// The immune memory as this engine last read or wrote it: learning at a run's end and a
    /// watch's selection share it, so neither decodes an unchanged document again.
    public let immuneMemory: ImmuneMemoryCache
    /// The resilience guards of the executors, channels and metric sources this engine calls
    /// (on the clock given at `init`); `guards.reconfigure` changes their limits in place.
    public let guards: ExecutorGuards
    /// Told what went wrong beside a run that goes on (an incident record not written, an event
    /// not published). By default a `medic: warning:` line on standard error.
    public var warn: @Sendable (String) -> Void

    /// `immuneMemory`: the cache `stores.knowledge` was built with, when it was (so the engine
    /// keeps one memory of the document).
    public init(stateDirectory: String? = nil, stores: StateStores? = nil, clock: any EngineClock = SystemClock(),
                immuneMemory: ImmuneMemoryCache = ImmuneMemoryCache(),
                warn: @escaping @Sendable (String) -> Void = EngineEnvironment.warnOnStandardError) {
        self.clock = clock
        self.stateDirectory = stateDirectory
        self.stores = stores
        self.warn = warn
        http = EngineHTTPClient()
        blockingPool = BlockingPool()
        runningSteps = RunningSteps()
        self.immuneMemory = immuneMemory
        guards = ExecutorGuards(clock: clock)
    }

    /// A `medic: warning:` line on standard error.
    @Sendable public static func warnOnStandardError(_ message: String) {
        IncidentRecording.warnOnStandardError(message)
    }

    /// Ends what the environment started: the HTTP client's connections. Steps still running are
    /// not touched (`runningSteps.stop()` ends them).
    public func shutdown() async throws {
        try await http.shutdown()
    }
}
