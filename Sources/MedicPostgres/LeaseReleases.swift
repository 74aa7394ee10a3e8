import Foundation

/// The lease releases still under way (a run's claim dropped, a run's target leases given up):
/// `StateDatabase.shutdown` waits for them before it closes the pool, so a server stopped
/// gracefully hands its leases over at once instead of leaving them to expire.
final class LeaseReleases: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [UInt64: Task<Void, Never>] = [:]
    private var next: UInt64 = 0

    /// Runs `release` in the background, remembered until it ends.
    func start(_ release: @escaping @Sendable () async -> Void) {
        lock.withLock {
            let id = next
            next += 1
            pending[id] = Task { [weak self] in
                await release()
                self?.finished(id)
            }
        }
    }

    private func finished(_ id: UInt64) {
        _ = lock.withLock { pending.removeValue(forKey: id) }
    }

    /// Waits for every release started so far (and those they start), at most `seconds`: a
    /// database that does not answer leaves its leases to expire, as a dead server's do. (Polled:
    /// awaiting a release that hangs could not be given up.)
    func drain(within seconds: Double) async {
        let deadline = Date().addingTimeInterval(seconds)
        while lock.withLock({ !pending.isEmpty }), Date() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }
}
