import Foundation

/// A circuit breaker: stops calling what keeps failing, tries again after a while.
///
/// - **closed**: calls pass; `failureThreshold` failures in a row open it.
/// - **open**: calls are refused until `resetTimeout` has passed, then it is half-open.
/// - **half-open**: at most `halfOpenMaxTrials` calls at once go through as trials;
///   `successThreshold` successes in a row close it, one failure opens it again.
///
/// `reset()` closes it by hand, `forceOpen()` holds it open until reset; `adopt` holds the state
/// another breaker of the same key (another process's) moved to. Each change of state is told to
/// the observers with its reason. Every time is the injected clock's.
public final class CircuitBreaker: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        public var failureThreshold: Int
        public var successThreshold: Int
        /// Seconds an open breaker waits before letting trials through.
        public var resetTimeout: Double
        public var halfOpenMaxTrials: Int

        public init(failureThreshold: Int = 5, successThreshold: Int = 2, resetTimeout: Double = 30, halfOpenMaxTrials: Int = 1) {
            self.failureThreshold = max(1, failureThreshold)
            self.successThreshold = max(1, successThreshold)
            self.resetTimeout = max(0, resetTimeout)
            self.halfOpenMaxTrials = max(1, halfOpenMaxTrials)
        }
    }

    public enum State: Sendable, Equatable {
        case closed
        /// Refusing calls until `until` (the clock's seconds); `forced` until reset by hand.
        case open(until: Double, forced: Bool)
        case halfOpen

        public var name: String {
            switch self {
            case .closed: return "closed"
            case .open: return "open"
            case .halfOpen: return "half_open"
            }
        }
    }

    /// A change of state, with why.
    public struct Transition: Sendable, Equatable {
        public var key: String
        public var from: String
        public var to: String
        public var reason: String
        public var at: Double
        /// For a move to open: the clock's time it lets trial calls through (infinity: forced
        /// open, until reset by hand); nil for the other states.
        public var until: Double? = nil
        /// Whether the move was adopted from another breaker of the same key (`adopt`), not
        /// decided by this one's calls: whoever decided it has told it already.
        public var adopted: Bool = false
    }

    /// The state another breaker of the same key (another process's) moved to, to hold here.
    public enum SharedState: Sendable, Equatable {
        /// Open there: refuse calls here for `retryIn` seconds more (nil: until reset by hand).
        case open(retryIn: Double?)
        /// Half-open there, its trial calls in flight: refuse here for `retryIn` seconds, after
        /// which this breaker lets a trial through itself (the trial's outcome never came).
        case trialElsewhere(retryIn: Double)
        /// Closed there: close here too.
        case closed
    }

    /// Leave to make one call; give it back with `record`.
    public struct Permit: Sendable {
        fileprivate let trial: Bool
        fileprivate let generation: UInt64
    }

    public let key: String
    public let clock: any ResilienceClock
    private let lock = NSLock()
    private var configuration: Configuration
    private var state: State = .closed
    private var failuresInARow = 0
    private var successesInARow = 0
    private var trialsInFlight = 0
    /// Why the breaker is in its state (the last transition's reason; "" while never moved).
    private var reason = ""
    /// Grows at each change of state: a call permitted before a change does not count after it.
    private var generation: UInt64 = 0
    private var observers: [@Sendable (Transition) -> Void] = []

    public init(key: String, configuration: Configuration = Configuration(), clock: any ResilienceClock) {
        self.key = key
        self.configuration = configuration
        self.clock = clock
    }

    /// The state now (an open breaker whose timeout passed reads half-open).
    public var currentState: State {
        lock.withLock {
            if case .open(let until, false) = state, clock.now >= until { return .halfOpen }
            return state
        }
    }

    public var currentConfiguration: Configuration { lock.withLock { configuration } }

    /// Why a call would be refused now: the state, the reason it was entered, and the seconds
    /// until trial calls are let through (nil: forced open, until reset by hand; 0: half-open,
    /// when a trial in flight ends). Nil when a call would be permitted.
    public var refusal: (state: String, reason: String, retryIn: Double?)? {
        lock.withLock {
            let now = clock.now
            switch state {
            case .closed:
                return nil
            case .open(let until, let forced):
                if forced { return ("open", reason, nil) }
                return now >= until ? nil : ("open", reason, until - now)
            case .halfOpen:
                return trialsInFlight < configuration.halfOpenMaxTrials ? nil
                    : ("half_open", "\(trialsInFlight) trial call(s) in flight after: \(reason)", 0)
            }
        }
    }

    /// New thresholds and timeouts; the state is kept (an open breaker keeps its deadline).
    public func reconfigure(_ configuration: Configuration) {
        lock.withLock { self.configuration = configuration }
    }

    public func observe(_ observer: @escaping @Sendable (Transition) -> Void) {
        lock.withLock { observers.append(observer) }
    }

    /// A permit to call, or nil: the breaker is open (or half-open with its trials taken).
    public func permit() -> Permit? {
        var told: [Transition] = []
        let granted: Permit? = lock.withLock {
            let now = clock.now
            if case .open(let until, let forced) = state {
                guard !forced, now >= until else { return nil }
                told.append(move(to: .halfOpen, "the reset timeout of \(configuration.resetTimeout) s passed: trial calls", now))
            }
            switch state {
            case .closed:
                return Permit(trial: false, generation: generation)
            case .halfOpen:
                guard trialsInFlight < configuration.halfOpenMaxTrials else { return nil }
                trialsInFlight += 1
                return Permit(trial: true, generation: generation)
            case .open:
                return nil
            }
        }
        tell(told)
        return granted
    }

    /// The outcome of a permitted call.
    public func record(_ permit: Permit, success: Bool) {
        var told: [Transition] = []
        lock.withLock {
            let now = clock.now
            if permit.trial && permit.generation == generation { trialsInFlight = max(0, trialsInFlight - 1) }
            guard permit.generation == generation else { return }  // a call from before the last change
            switch state {
            case .closed:
                if success {
                    failuresInARow = 0
                } else {
                    failuresInARow += 1
                    if failuresInARow >= configuration.failureThreshold {
                        told.append(move(to: .open(until: now + configuration.resetTimeout, forced: false),
                                         "\(failuresInARow) failures in a row", now))
                    }
                }
            case .halfOpen:
                if success {
                    successesInARow += 1
                    if successesInARow >= configuration.successThreshold {
                        told.append(move(to: .closed, "\(successesInARow) trial calls succeeded", now))
                    }
                } else {
                    told.append(move(to: .open(until: now + configuration.resetTimeout, forced: false), "a trial call failed", now))
                }
            case .open:
                break
            }
        }
        tell(told)
    }

    /// Gives back a permit whose call ended without an outcome to count (it was cancelled): a
    /// trial's place is freed, nothing is recorded.
    public func release(_ permit: Permit) {
        lock.withLock {
            if permit.trial && permit.generation == generation { trialsInFlight = max(0, trialsInFlight - 1) }
        }
    }

    /// Closes the breaker by hand (a closed one starts its count of failures again).
    public func reset(reason: String = "reset by hand") {
        let told: [Transition] = lock.withLock {
            guard state != .closed else {
                failuresInARow = 0
                return []
            }
            return [move(to: .closed, reason, clock.now)]
        }
        tell(told)
    }

    /// Opens the breaker by hand, until `reset`.
    public func forceOpen(reason: String = "opened by hand") {
        let told: [Transition] = lock.withLock { [move(to: .open(until: .infinity, forced: true), reason, clock.now)] }
        tell(told)
    }

    /// Holds the state another breaker of the same key moved to (`reason` says which and why).
    /// Told to the observers as an adopted transition; an open breaker held open again keeps
    /// refusing (the new deadline replaces the old) without a transition.
    public func adopt(_ shared: SharedState, reason: String) {
        let told: [Transition] = lock.withLock {
            let now = clock.now
            let next: State
            switch shared {
            case .open(let retryIn?), .trialElsewhere(let retryIn):
                next = .open(until: now + max(0, retryIn), forced: false)
            case .open(nil):
                next = .open(until: .infinity, forced: true)
            case .closed:
                next = .closed
            }
            if case .open = state, case .open = next {
                // Still refusing: only the deadline and the reason change; no call is in flight to void.
                state = next
                self.reason = reason
                return []
            }
            if state == .closed && next == .closed { return [] }
            var transition = move(to: next, reason, now)
            transition.adopted = true
            return [transition]
        }
        tell(told)
    }

    /// Under `lock`.
    private func move(to next: State, _ reason: String, _ now: Double) -> Transition {
        let from = state.name
        state = next
        generation &+= 1
        failuresInARow = 0
        successesInARow = 0
        trialsInFlight = 0
        self.reason = reason
        var transition = Transition(key: key, from: from, to: next.name, reason: reason, at: now)
        if case .open(let until, _) = next { transition.until = until }
        return transition
    }

    private func tell(_ transitions: [Transition]) {
        guard !transitions.isEmpty else { return }
        let watchers = lock.withLock { observers }
        for transition in transitions { for watch in watchers { watch(transition) } }
    }
}
