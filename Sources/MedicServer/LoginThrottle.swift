import Crypto
import Foundation
import MedicEngine

/// Limits the failed logins of the web page (docs/serving.md, "The web page"), so that a token
/// cannot be guessed at the speed of the network: a bucket of failures per client address and
/// one per token presented (a failed login names no identity, since the form takes only the
/// token: the same stolen or stale token tried from many addresses is limited by the second).
/// Each bucket holds `burst` failures and gets one back every `refill` seconds. While a bucket
/// of a login is empty the login is refused (429) before its token is even checked, right or
/// wrong, so a limited client learns nothing. A login that succeeds costs nothing.
///
/// The table is bounded: beyond `capacity` buckets, the full ones are dropped, then the oldest.
final class LoginThrottle: @unchecked Sendable {  // `buckets` only under `lock`
    struct Limit: Sendable {
        var burst: Int
        /// Seconds for one failure to be given back.
        var refill: Double
    }

    static let perAddress = Limit(burst: 10, refill: 60)
    static let perToken = Limit(burst: 5, refill: 60)
    static let capacity = 10_000

    let clock: any EngineClock
    private let lock = NSLock()
    private var buckets: [String: (failures: Double, at: Date, refill: Double)] = [:]

    init(clock: any EngineClock) { self.clock = clock }

    /// The buckets of a login from `address` presenting `token`, with their limits.
    static func keys(address: String, token: String) -> [(String, Limit)] {
        let digest = SHA256.hash(data: Data(token.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        return [("address " + address, perAddress), ("token " + digest, perToken)]
    }

    /// Seconds to wait before one of `keys` may fail again; nil when every one may.
    func wait(_ keys: [(String, Limit)]) -> Int? {
        let now = clock.now
        return lock.withLock {
            let waits = keys.compactMap { key, limit -> Int? in
                let left = Double(limit.burst) - failures(key, limit, now)
                return left >= 1 ? nil : Int(((1 - left) * limit.refill).rounded(.up))
            }
            return waits.max()
        }
    }

    /// Counts one failed login against each of `keys`.
    func failed(_ keys: [(String, Limit)]) {
        let now = clock.now
        lock.withLock {
            for (key, limit) in keys { buckets[key] = (failures(key, limit, now) + 1, now, limit.refill) }
            guard buckets.count > Self.capacity else { return }
            buckets = buckets.filter { $0.value.failures - now.timeIntervalSince($0.value.at) / $0.value.refill > 0 }
            while buckets.count > Self.capacity, let oldest = buckets.min(by: { $0.value.at < $1.value.at })?.key { buckets[oldest] = nil }
        }
    }

    /// The failures `key` holds at `now`, after what the time since its last one gave back.
    private func failures(_ key: String, _ limit: Limit, _ now: Date) -> Double {
        guard let bucket = buckets[key] else { return 0 }
        return max(0, bucket.failures - max(0, now.timeIntervalSince(bucket.at)) / limit.refill)
    }
}
