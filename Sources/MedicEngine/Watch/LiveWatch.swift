import Foundation
import MedicDetect
import MedicModel

/// `medic watch` without a feed: every `interval`, one round of sampling fed to the watcher, then
/// time advanced to the round's time (incidents resolve on quiet series); every `healthInterval`
/// (and at the first round), a self-monitoring check. Time is the injected clock's: each round
/// is stamped with its `now` and the wait between rounds is its `sleep`, so a test drives the
/// loop with a `ManualClock` and no real waiting. Runs until cancelled (or `rounds` rounds).
public struct LiveWatch: Sendable {
    /// One round of sampling at a time (seconds since 1970): the samples read, and a message for
    /// each series that could not be read.
    public typealias Round = @Sendable (Double) async -> (samples: [Sample], problems: [String])

    public let clock: any EngineClock
    /// Seconds between two rounds (above 0).
    public let interval: Double
    public let round: Round
    /// The self-monitoring check and its period; nil: none.
    public let health: (check: WatchHealthCheck, interval: Double)?
    /// A line for the watch's output (what could not be sampled, what the health check did).
    public let note: @Sendable (String) -> Void

    public init(clock: any EngineClock, interval: Double, round: @escaping Round,
                health: (check: WatchHealthCheck, interval: Double)? = nil, note: @escaping @Sendable (String) -> Void) {
        self.clock = clock
        self.interval = interval
        self.round = round
        self.health = health
        self.note = note
    }

    /// Samples through `sampler` (the metric sources and the scrape targets).
    public init(clock: any EngineClock, interval: Double, sampler: LiveSampler,
                health: (check: WatchHealthCheck, interval: Double)? = nil, note: @escaping @Sendable (String) -> Void) {
        self.init(clock: clock, interval: interval, round: { await sampler.round(at: $0) }, health: health, note: note)
    }

    /// Feeds `watcher` round after round; returns after `rounds` rounds, or throws
    /// `CancellationError` when the task is cancelled during a wait.
    public func run(_ watcher: Watcher, rounds: Int = .max) async throws {
        var nextHealthCheck = clock.now.timeIntervalSince1970
        var done = 0
        // What could not be sampled last round: a problem is noted when it appears and when it
        // ends, not every round (a service running for weeks would repeat it every interval).
        var failing: Set<String> = []
        while done < rounds {
            let now = clock.now.timeIntervalSince1970
            if let health, now >= nextHealthCheck {
                nextHealthCheck = now + health.interval
                for line in await health.check.run(now: Date(timeIntervalSince1970: now)) { note(line) }
            }
            let (samples, problems) = await round(now)
            for problem in problems where !failing.contains(problem) { note("cannot sample: \(problem)") }
            let failingNow = Set(problems)
            for problem in failing.subtracting(failingNow).sorted() { note("sampling again: \(problem)") }
            failing = failingNow
            for sample in samples { await watcher.ingest(sample) }
            await watcher.advance(to: now)
            done += 1
            if done < rounds { try await clock.sleep(seconds: interval) }
        }
    }
}

/// One self-monitoring round of a watch (as `medic health`): alerts raised or cleared go on the
/// bus; what changed comes back as lines for the watch's output. Never stops the watch.
public struct WatchHealthCheck: Sendable {
    public let monitor: SelfMonitor
    public let bus: any StepExecutor

    public init(monitor: SelfMonitor, bus: any StepExecutor) {
        self.monitor = monitor
        self.bus = bus
    }

    public func run(now: Date) async -> [String] {
        do {
            let evaluation = try await monitor.evaluateAndPublish(now: now, bus: bus)
            return evaluation.published.map { "health: \($0.type) \($0.key)" }
                + evaluation.failures.map { "health: not published: \($0)" }
        } catch {
            return ["health: the self-monitoring check failed: \(error)"]
        }
    }
}
