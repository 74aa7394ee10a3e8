import Foundation
import MedicResilience

/// The resilience guards of one engine, one per executor and destination (`GuardKind`): every
/// step's executor call, every notification sent and every metric query goes through the guard
/// of its key (bulkhead → breaker → retry → timeout, docs/resilience.md). Limits come from
/// `ResilienceSettings`; `reconfigure` puts new ones in force at once, breakers keeping their
/// state. Kept in memory: a new process starts with every breaker closed, unless the breakers
/// are shared with other processes through a store (`GuardStateSharing`).
public final class ExecutorGuards: Sendable {
    public let guards: ResilienceGuards
    /// The engine's clock, for the wall time a refusal names.
    public let engineClock: any EngineClock
    private let current: GuardLocked<ResilienceSettings>
    /// Where the breakers' transitions are published (`GuardTransitionPublisher.follow`): one
    /// at a time, the last one given.
    let transitionPublisher = GuardLocked<GuardTransitionPublisher?>(nil)

    /// The limits of the keys whose limits are adaptive.
    let adaptive: AdaptiveGuardLimits

    public init(settings: ResilienceSettings = ResilienceSettings(), clock: any EngineClock) {
        engineClock = clock
        current = GuardLocked(settings)
        let adaptive = AdaptiveGuardLimits()
        self.adaptive = adaptive
        let timeline: any ResilienceClock = clock is SystemClock ? SystemResilienceClock() : EngineTimeline(clock: clock)
        guards = ResilienceGuards(clock: timeline) { [adaptive] in adaptive.configuration(for: $0, settings) }
        guards.observe { [adaptive] in adaptive.note($0) }
    }

    public var settings: ResilienceSettings { current.value }

    /// New limits for every guard, made or to be made; breakers keep their state.
    /// Adaptive limits keep where they had moved to, unless their bounds changed.
    public func reconfigure(_ settings: ResilienceSettings) {
        current.value = settings
        let guards = guards
        adaptive.reconfigure(settings) { key in
            let guarded = guards.guarding(key)
            var configuration = settings.configuration(for: key)
            configuration.breaker = guarded.breaker.currentConfiguration
            configuration.bulkhead.maxConcurrent = guarded.bulkhead.snapshot.maxConcurrent
            return configuration
        }
        guards.reconfigure { [adaptive] in adaptive.configuration(for: $0, settings) }
    }

    /// Told of every change of a breaker's state.
    public func observe(_ observer: @escaping @Sendable (CircuitBreaker.Transition) -> Void) {
        guards.observe(observer)
    }

    public var snapshots: [ResilienceGuard.Snapshot] { guards.snapshots }

    /// Holds, in the breaker of `key` (made if need be), the state another process's breaker of
    /// that key moved to; told to the observers as an adopted transition.
    public func adopt(_ shared: CircuitBreaker.SharedState, key: String, reason: String) {
        guards.guarding(key).breaker.adopt(shared, reason: reason)
    }

    /// Calls `operation` through the guard of `key`. A key with adaptive limits has the call's
    /// outcome and latency counted by them (a refusal called nothing: it is not counted).
    public func call<T: Sendable>(_ key: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard adaptive.isAdaptive(key, current.value) else { return try await guards.call(key, operation) }
        let clock = guards.clock
        let started = clock.now
        do {
            let value = try await guards.call(key, operation)
            adaptive.record(key, success: true, latency: clock.now - started, at: clock.now)
            return value
        } catch {
            switch error {
            case ResilienceError.circuitOpen, ResilienceError.bulkheadFull, is CancellationError:
                break
            default:
                adaptive.record(key, success: false, latency: clock.now - started, at: clock.now)
            }
            throw error
        }
    }

    /// Moves every adaptive key's limits one step for what its calls show now, and puts them in
    /// force in its guard (`medic serve` does it every 10 s: `adaptEvery`).
    public func adjustAdaptiveLimits() {
        for (key, configuration) in adaptive.adjust(at: guards.clock.now, current.value) {
            guards.guarding(key).reconfigure(configuration)
        }
    }

    /// Adjusts the adaptive limits every `seconds` (on the engine's clock) until `stopAdapting`.
    public func adaptEvery(_ seconds: Double) {
        let interval = max(0.01, seconds)
        adaptive.setLoop(Task { [weak self] in
            while !Task.isCancelled {
                try? await self?.engineClock.sleep(seconds: interval)
                guard !Task.isCancelled, let self else { return }
                adjustAdaptiveLimits()
            }
        })
    }

    public func stopAdapting() { adaptive.setLoop(nil) }

    /// Whether the limits of `key` are adaptive (and its guard was used).
    public func isAdaptive(_ key: String) -> Bool { adaptive.keys.contains(key) }

    /// A refusal for people: which guard, why, and when it lets calls through again (as a wall
    /// time on the engine's clock).
    public func explain(_ refusal: ResilienceError) -> String {
        switch refusal {
        case let .circuitOpen(key, state, reason, retryIn):
            let why = reason.isEmpty ? "" : " after \(reason)"
            let name = state == "half_open" ? "half-open" : state
            var text = "refused by the guard \(key): its circuit breaker is \(name)\(why)"
            switch retryIn {
            case nil: text += "; it stays open until reset by hand"
            case let seconds? where seconds <= 0: text += "; its trial call is in flight, the next call may go when it ends"
            case let seconds?:
                let at = engineClock.now.addingTimeInterval(seconds.rounded(.up))
                text += "; it lets a trial call through at \(JournalRecord.timestamp(at)) (in \(Int(seconds.rounded(.up))) s)"
            }
            return text
        case let .bulkheadFull(key, running, queued):
            return "refused by the guard \(key): its bulkhead is full (\(running) calls running, \(queued) waiting)"
        default:
            return refusal.description
        }
    }
}

/// The engine's clock seen by the guards: seconds since 1970, waits on the engine's clock (a
/// test's clock moves the guards' time too).
struct EngineTimeline: ResilienceClock {
    let clock: any EngineClock
    var now: Double { clock.now.timeIntervalSince1970 }
    func sleep(for seconds: Double) async throws { try await clock.sleep(seconds: seconds) }
}

/// A value behind a lock.
final class GuardLocked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func modify(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
