import MedicResilience

/// What a guard's key starts with: the executor, before the `:` and its destination
/// (`http:127.0.0.1:8080`, `shell:web-01`, `bus:outbox`, `channel:pager`, `metrics:http://prom:9090`).
public enum GuardKind: String, Sendable, CaseIterable {
    case shell, http, bus, channel, metrics

    /// The kind of `key` (nil: a key of no kind Medic makes).
    public init?(key: String) {
        guard let colon = key.firstIndex(of: ":") else { return nil }
        self.init(rawValue: String(key[..<colon]))
    }

    /// Whether the calls of this kind are a run's steps. Their retries are the engine's own,
    /// journaled attempt by attempt under the step's idempotency rules, and their time limit is
    /// the step's `timeout`, which ends the step's processes: a guard of theirs never retries a
    /// call and sets no timeout of its own, so it can never run a step twice or leave one running
    /// behind a failure it reported.
    public var isStep: Bool { self == .shell || self == .http || self == .bus }
}

/// The limits of one kind or one key; each unset value is taken from the level below (a key's
/// from its kind's, a kind's from Medic's defaults).
public struct GuardLimits: Sendable, Equatable {
    public var maxConcurrent: Int?
    public var maxQueued: Int?
    public var failureThreshold: Int?
    public var successThreshold: Int?
    /// Seconds an open breaker refuses before trial calls.
    public var resetTimeout: Double?
    public var halfOpenTrials: Int?
    /// Seconds one attempt may take: channels and metric sources only (steps have their own).
    public var timeout: Double?
    /// Attempts in all, the first included: channels and metric sources only.
    public var retryAttempts: Int?
    /// The first wait between attempts, doubled at each (full jitter), at most `retryMax`.
    public var retryInitial: Double?
    public var retryMax: Double?
    /// Whether the failure threshold, reset timeout and bulkhead places follow the destination
    /// (`AdaptiveLimits`, within its bounds) or stay as set.
    public var adaptation: GuardAdaptation?

    public init(maxConcurrent: Int? = nil, maxQueued: Int? = nil, failureThreshold: Int? = nil, successThreshold: Int? = nil,
                resetTimeout: Double? = nil, halfOpenTrials: Int? = nil, timeout: Double? = nil, retryAttempts: Int? = nil,
                retryInitial: Double? = nil, retryMax: Double? = nil, adaptation: GuardAdaptation? = nil) {
        self.maxConcurrent = maxConcurrent
        self.maxQueued = maxQueued
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.resetTimeout = resetTimeout
        self.halfOpenTrials = halfOpenTrials
        self.timeout = timeout
        self.retryAttempts = retryAttempts
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.adaptation = adaptation
    }

    /// These limits with `other`'s set values in place of theirs.
    public func overridden(by other: GuardLimits) -> GuardLimits {
        GuardLimits(maxConcurrent: other.maxConcurrent ?? maxConcurrent, maxQueued: other.maxQueued ?? maxQueued,
                    failureThreshold: other.failureThreshold ?? failureThreshold, successThreshold: other.successThreshold ?? successThreshold,
                    resetTimeout: other.resetTimeout ?? resetTimeout, halfOpenTrials: other.halfOpenTrials ?? halfOpenTrials,
                    timeout: other.timeout ?? timeout, retryAttempts: other.retryAttempts ?? retryAttempts,
                    retryInitial: other.retryInitial ?? retryInitial, retryMax: other.retryMax ?? retryMax,
                    adaptation: other.adaptation ?? adaptation)
    }
}

/// Whether a guard's limits are fixed or follow what its destination does.
public enum GuardAdaptation: Sendable, Equatable {
    case fixed
    /// The failure threshold, reset timeout and bulkhead places move within these bounds.
    case adaptive(AdaptiveLimits.Bounds)
}

/// The limits of every guard of an engine: Medic's defaults per kind, overridden per kind and
/// per key (`medic.yaml`'s `resilience:` for `medic serve`).
public struct ResilienceSettings: Sendable, Equatable {
    public var kinds: [GuardKind: GuardLimits]
    /// Limits of one key exactly (`http:127.0.0.1:8080`), over its kind's.
    public var keys: [String: GuardLimits]

    public init(kinds: [GuardKind: GuardLimits] = [:], keys: [String: GuardLimits] = [:]) {
        self.kinds = kinds
        self.keys = keys
    }

    /// Medic's defaults. Steps: 32 at once per destination and 256 waiting, a breaker opened by
    /// 5 failures in a row for 30 s, one trial at a time, closed by 1 success; no retry, no
    /// timeout of the guard's own. Channels: the breaker opens after 3 failed sends for 60 s,
    /// each send tried 3 times (waits from 1 s, at most 5 s). Metric sources: 2 attempts
    /// (a wait up to 0.2 s), a breaker of 5 failures and 30 s.
    public static func defaults(for kind: GuardKind?) -> GuardLimits {
        let base = GuardLimits(maxConcurrent: 32, maxQueued: 256, failureThreshold: 5, successThreshold: 1, resetTimeout: 30,
                               halfOpenTrials: 1, timeout: nil, retryAttempts: 1, retryInitial: 1, retryMax: 5)
        switch kind {
        case .channel:
            return base.overridden(by: GuardLimits(failureThreshold: 3, resetTimeout: 60, retryAttempts: 3, retryInitial: 1, retryMax: 5))
        case .metrics:
            return base.overridden(by: GuardLimits(retryAttempts: 2, retryInitial: 0.2, retryMax: 0.2))
        case .shell, .http, .bus, nil:
            return base
        }
    }

    /// The limits in force for `key`: the defaults of its kind, its kind's, then its own.
    public func limits(for key: String) -> GuardLimits {
        let kind = GuardKind(key: key)
        var limits = Self.defaults(for: kind)
        if let kind, let own = kinds[kind] { limits = limits.overridden(by: own) }
        if let own = keys[key] { limits = limits.overridden(by: own) }
        return limits
    }

    /// The bounds of `key`'s adaptive limits; nil when its limits are fixed.
    public func adaptiveBounds(for key: String) -> AdaptiveLimits.Bounds? {
        if case .adaptive(let bounds)? = limits(for: key).adaptation { return bounds }
        return nil
    }

    /// The guard configuration of `key`. A step's guard never retries and has no timeout,
    /// whatever the limits say (`GuardKind.isStep`).
    public func configuration(for key: String) -> GuardConfiguration {
        let limits = limits(for: key)
        let step = GuardKind(key: key)?.isStep ?? true
        let attempts = step ? 1 : max(1, limits.retryAttempts ?? 1)
        let retry = attempts <= 1 ? MedicResilience.RetryPolicy.never
            : MedicResilience.RetryPolicy(maxAttempts: attempts, backoff: .exponential(initial: limits.retryInitial ?? 1, multiplier: 2),
                                          maxDelay: limits.retryMax ?? 5, jitter: .full)
        return GuardConfiguration(
            bulkhead: Bulkhead.Configuration(maxConcurrent: limits.maxConcurrent ?? 32, maxQueued: limits.maxQueued ?? 256),
            breaker: CircuitBreaker.Configuration(failureThreshold: limits.failureThreshold ?? 5, successThreshold: limits.successThreshold ?? 1,
                                                  resetTimeout: limits.resetTimeout ?? 30, halfOpenMaxTrials: limits.halfOpenTrials ?? 1),
            retry: retry, timeout: step ? nil : limits.timeout)
    }
}
