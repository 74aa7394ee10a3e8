import Foundation

/// Runs work items on one thread per core. The composers recurse at most `InputLimits.maxDepth`
/// levels, so 8 MiB (a main thread's stack) leaves a wide margin over the default 512 KiB.
enum LoaderThreads {
    static let stackSize = 8 << 20

    /// Calls `body(i)` for every i in 0..<count across `threads` threads and returns the results
    /// in index order. Blocks until all are done.
    static func map<T: Sendable>(count: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                 _ body: @escaping @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let results = ResultSlots<T>(count: count)
        let workers = max(1, min(threads, count))
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<workers {
            let thread = Thread {
                while let index = results.claim() {
                    results.store(body(index), at: index)
                }
                done.signal()
            }
            thread.stackSize = stackSize
            thread.start()
        }
        for _ in 0..<workers { done.wait() }
        return results.values()
    }
}

/// Result storage shared by the workers; every slot is written once, by the thread that claimed it.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var slots: [T?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func store(_ value: T, at index: Int) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    func values() -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
