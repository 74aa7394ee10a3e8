import Foundation
import MedicResilience

/// A breaker's state as a store shared by several processes keeps it: the last change any of
/// them recorded for the key.
public struct SharedGuardState: Sendable, Equatable {
    public var key: String
    /// `open`, `half_open` or `closed`.
    public var state: String
    public var reason: String
    /// The process that recorded it (`medic serve --instance`).
    public var instance: String
    /// Grows at each change of the key.
    public var version: Int64
    /// Seconds, from when the store was read, until the others may let a trial call through
    /// themselves: for `open`, when the opener's reset timeout ends (nil: forced open, until
    /// reset); for `half_open`, when its trial's outcome is overdue. Nil when closed.
    public var retryIn: Double?

    public init(key: String, state: String, reason: String, instance: String, version: Int64, retryIn: Double?) {
        self.key = key
        self.state = state
        self.reason = reason
        self.instance = instance
        self.version = version
        self.retryIn = retryIn
    }
}

/// Where processes sharing a database keep their breakers' states (`PostgresGuardStates`).
public protocol GuardStateStore: Sendable {
    /// Where, for messages.
    var location: String { get }
    /// Records that `instance`'s breaker of `key` entered `state`; `retryIn` as in `SharedGuardState`,
    /// counted from the store's time now.
    func record(key: String, state: String, reason: String, instance: String, retryIn: Double?) async throws
    /// Every key's last recorded state.
    func states() async throws -> [SharedGuardState]
}

/// Shares the breakers of `guards` with the other processes of `store` (`medic serve --store`):
/// each change of state of a breaker here (opened by its failures, half-open for a trial, closed
/// by it) is recorded in the store, and every `interval` seconds the store's states are read and
/// the changes other processes recorded are held here (`CircuitBreaker.adopt`): open for what
/// is left of the opener's reset timeout, so a failing destination is refused by every process
/// once one has seen it fail.
///
/// The store is never on a call's path: a call asks its breaker, in memory, as without sharing.
/// Changes are written in the background (at once, and again each interval until written: only
/// a key's latest) and read on the interval. A store that fails or does not answer within
/// `answerWithin` seconds is a warning, once until it answers again; the breakers go on, each
/// with what it knows.
///
/// A process that adopted an open breaker waits `2 × interval` more than its opener before a
/// trial of its own, so the opener's trial normally comes first and its outcome (closed, or
/// open again) reaches the others; a process that sees another's trial in flight refuses until
/// that trial's outcome is overdue (one reset timeout). Two processes may still each let a trial
/// through (a store read late): at most one trial per process, never a flood.
public final class GuardStateSharing: Sendable {
    public let guards: ExecutorGuards
    public let store: any GuardStateStore
    public let instance: String
    public let interval: Double
    /// Seconds an exchange may wait for the store before the states are said not shared.
    public let answerWithin: Double
    private let warn: @Sendable (String) -> Void
    private let progress = GuardLocked(Progress())

    struct Local: Sendable {
        var state: String
        var reason: String
        /// For open: when trials start, on the breakers' clock (infinity: forced).
        var until: Double?
        var resetTimeout: Double
    }

    struct Progress: Sendable {
        /// Changes of the breakers here not yet written: each key's latest.
        var pending: [String: Local] = [:]
        /// The version of each key's state last read.
        var seen: [String: Int64] = [:]
        var readOnce = false
        /// Why the store failed, while it does.
        var failing: String?
        /// An exchange runs; the others wait their turn here, in order.
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// An exchange asked for by a change here has not started yet (one is enough).
        var kicked = false
        var loop: Task<Void, Never>?
    }

    public init(guards: ExecutorGuards, store: any GuardStateStore, instance: String, interval: Double = 1, answerWithin: Double = 5,
                warn: @escaping @Sendable (String) -> Void) {
        self.guards = guards
        self.store = store
        self.instance = instance
        self.interval = max(0.05, interval)
        self.answerWithin = max(0.05, answerWithin)
        self.warn = warn
        guards.observe { [weak self] transition in
            guard !transition.adopted, let self else { return }
            let reset = guards.guards.guarding(transition.key).breaker.currentConfiguration.resetTimeout
            let kick: Bool = progress.update {
                $0.pending[transition.key] = Local(state: transition.to, reason: transition.reason, until: transition.until, resetTimeout: reset)
                let first = !$0.kicked
                $0.kicked = true
                return first
            }
            // Written at once, in the background: the call that moved the breaker goes on.
            if kick { Task { await self.exchange() } }
        }
    }

    /// Exchanges with the store every `interval` seconds until `stop`.
    public func start() {
        let task = Task { [self] in
            while !Task.isCancelled {
                await exchange()
                try? await guards.engineClock.sleep(seconds: interval)
            }
        }
        progress.modify { $0.loop = task }
    }

    public func stop() {
        progress.value.loop?.cancel()
    }

    /// Writes the changes made here, then reads the store and adopts the others'. One at a time,
    /// in turn: when it returns, an exchange begun after the call has ended.
    public func exchange() async {
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            let now: Bool = progress.update {
                if $0.busy {
                    $0.waiting.append(turn)
                    return false
                }
                $0.busy = true
                return true
            }
            if now { turn.resume() }
        }
        await once()
        let next: CheckedContinuation<Void, Never>? = progress.update {
            if $0.waiting.isEmpty {
                $0.busy = false
                return nil
            }
            return $0.waiting.removeFirst()
        }
        next?.resume()
    }

    private func once() async {
        // A database that does not answer (stopped, unreachable) holds the exchange until it does:
        // the breakers go on meanwhile; the watchdog says so.
        let answered = GuardLocked(false)
        let watchdog = Task { [weak self, answerWithin] in
            try? await Task.sleep(nanoseconds: UInt64(answerWithin * 1_000_000_000))
            guard !Task.isCancelled, !answered.value, let self else { return }
            self.failed("no answer within \(answerWithin) s")
        }
        defer { watchdog.cancel() }
        do {
            try await write()
            let states = try await store.states()
            answered.value = true
            adopt(states)
            let recovered: String? = progress.update { let was = $0.failing; $0.failing = nil; return was }
            if recovered != nil { warn("the breakers' states are shared again through \(store.location)") }
        } catch {
            answered.value = true
            failed("\(error)")
        }
    }

    /// Warns once until the store answers again.
    private func failed(_ why: String) {
        let first: Bool = progress.update { let first = $0.failing == nil; $0.failing = why; return first }
        if first {
            warn("the breakers' states are not shared while \(store.location) fails (each breaker keeps its own state here): \(why)")
        }
    }

    private func write() async throws {
        let batch: [String: Local] = progress.update {
            let taken = $0.pending
            $0.pending = [:]
            $0.kicked = false
            return taken
        }
        var left = batch
        defer {
            // What was not written waits for the next exchange, unless a newer change replaced it.
            if !left.isEmpty { progress.modify { for (key, local) in left where $0.pending[key] == nil { $0.pending[key] = local } } }
        }
        for (key, local) in batch.sorted(by: { $0.key < $1.key }) {
            let retryIn: Double?
            switch local.state {
            case "open": retryIn = local.until.flatMap { $0.isFinite ? max(0, $0 - guards.guards.clock.now) : nil }
            case "half_open": retryIn = local.resetTimeout
            default: retryIn = nil
            }
            try await store.record(key: key, state: local.state, reason: local.reason, instance: instance, retryIn: retryIn)
            left[key] = nil
        }
    }

    private func adopt(_ states: [SharedGuardState]) {
        let margin = 2 * interval
        let (changed, firstRead): ([SharedGuardState], Bool) = progress.update { progress in
            var changed: [SharedGuardState] = []
            for state in states {
                let before = progress.seen[state.key]
                progress.seen[state.key] = state.version
                if state.instance != instance && before != state.version { changed.append(state) }
            }
            let first = !progress.readOnce
            progress.readOnce = true
            return (changed, first)
        }
        for state in changed {
            // A process starting adopts only what still refuses: a past opening or a closed state tells it nothing.
            if firstRead && (state.state == "closed" || (state.retryIn.map { $0 <= 0 } ?? false)) { continue }
            switch state.state {
            case "open":
                guards.adopt(.open(retryIn: state.retryIn.map { max(0, $0) + margin }), key: state.key,
                             reason: "\(state.reason) (on \(state.instance))")
            case "half_open":
                guards.adopt(.trialElsewhere(retryIn: max(0, state.retryIn ?? 0) + margin), key: state.key,
                             reason: "a trial call by \(state.instance)")
            case "closed":
                guards.adopt(.closed, key: state.key, reason: "\(state.reason) (on \(state.instance))")
            default:
                continue
            }
        }
    }
}

extension GuardLocked {
    /// Changes the value and returns what `change` says, under the lock.
    func update<Result>(_ change: (inout Value) -> Result) -> Result {
        var result: Result?
        modify { (value: inout Value) in result = change(&value) }
        return result!
    }
}
