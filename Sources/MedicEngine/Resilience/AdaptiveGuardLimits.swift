import Foundation
import MedicResilience

/// The adaptive limits of an engine's guards (`adaptive:` in the `resilience:` section,
/// docs/resilience.md, "Adaptive limits"): for each key whose limits are adaptive, an
/// `AdaptiveLimits` fed with every call's outcome and latency and with each recovery of its
/// breaker (`note`), moved by `adjust` (every 10 s in `medic serve`), whose limits are
/// put in force in the live guard at once: its breaker's failure threshold and reset timeout,
/// its bulkhead's places. Keys with fixed limits cost a call one dictionary lookup.
public final class AdaptiveGuardLimits: Sendable {
    struct Destination: Sendable {
        var limits: AdaptiveLimits
        /// When its breaker opened, and when it last opened again after a failed trial (the
        /// guards' clock), while it is not closed.
        var openedAt: Double?
        var reopenedAt: Double?
    }

    struct State: Sendable {
        /// Whether each key met so far is adaptive (worked out once per key and settings).
        var adaptive: [String: Bool] = [:]
        var destinations: [String: Destination] = [:]
        var loop: Task<Void, Never>?
    }

    private let state = GuardLocked(State())

    init() {}

    /// Whether `key`'s limits follow it under `settings` (its state made on first use).
    func isAdaptive(_ key: String, _ settings: @autoclosure () -> ResilienceSettings) -> Bool {
        if let known = state.update({ $0.adaptive[key] }) { return known }
        let settings = settings()
        let bounds = settings.adaptiveBounds(for: key)
        state.modify { state in
            state.adaptive[key] = bounds != nil
            if let bounds, state.destinations[key] == nil {
                state.destinations[key] = Destination(limits: AdaptiveLimits(bounds: bounds, initial: settings.configuration(for: key)))
            }
        }
        return bounds != nil
    }

    func record(_ key: String, success: Bool, latency: Double, at now: Double) {
        state.modify { $0.destinations[key]?.limits.record(success: success, latency: latency, at: now) }
    }

    /// A breaker's change of state. A recovery is counted as the time from its opening to its
    /// last failed trial: 0 when the first trial succeeded (the destination was back before the
    /// reset timeout ended: a shorter one would do), a reset timeout or more when trials failed
    /// (a longer one would spare the destination those trials).
    func note(_ transition: CircuitBreaker.Transition) {
        state.modify { state in
            guard var destination = state.destinations[transition.key] else { return }
            switch transition.to {
            case "open":
                if destination.openedAt == nil { destination.openedAt = transition.at } else { destination.reopenedAt = transition.at }
            case "closed":
                if let opened = destination.openedAt, !transition.adopted {
                    destination.limits.recordRecovery(after: max(0, (destination.reopenedAt ?? opened) - opened))
                }
                (destination.openedAt, destination.reopenedAt) = (nil, nil)
            default:
                break
            }
            state.destinations[transition.key] = destination
        }
    }

    /// `key`'s configuration under `settings`: its adaptive limits as they are now, over the rest.
    func configuration(for key: String, _ settings: ResilienceSettings) -> GuardConfiguration {
        let base = settings.configuration(for: key)
        return state.update { $0.destinations[key]?.limits.applied(to: base) } ?? base
    }

    /// New settings: keys no longer adaptive forget their state; keys whose bounds changed start
    /// again from their limits in force (`inForce`, asked outside the lock), within the new bounds.
    func reconfigure(_ settings: ResilienceSettings, inForce: (String) -> GuardConfiguration) {
        let changed: [String: AdaptiveLimits.Bounds] = state.update { state in
            state.adaptive = [:]
            var changed: [String: AdaptiveLimits.Bounds] = [:]
            for (key, destination) in state.destinations {
                guard let bounds = settings.adaptiveBounds(for: key) else {
                    state.destinations[key] = nil
                    continue
                }
                if bounds != destination.limits.bounds { changed[key] = bounds }
            }
            return changed
        }
        let restarted = changed.map { key, bounds in (key, Destination(limits: AdaptiveLimits(bounds: bounds, initial: inForce(key)))) }
        state.modify { state in for (key, destination) in restarted { state.destinations[key] = destination } }
    }

    /// Moves each adaptive key's limits one step for what its windows show at `now`: the keys and
    /// their configurations to put in force.
    func adjust(at now: Double, _ settings: ResilienceSettings) -> [(String, GuardConfiguration)] {
        state.update { state in
            var moved: [(String, GuardConfiguration)] = []
            for key in state.destinations.keys.sorted() {
                guard let configuration = state.destinations[key]?.limits.adjust(at: now, base: settings.configuration(for: key)) else { continue }
                moved.append((key, configuration))
            }
            return moved
        }
    }

    /// The keys whose limits are adaptive now.
    var keys: Set<String> { state.update { Set($0.destinations.keys) } }

    func setLoop(_ task: Task<Void, Never>?) {
        let old: Task<Void, Never>? = state.update { let old = $0.loop; $0.loop = task; return old }
        old?.cancel()
    }
}
