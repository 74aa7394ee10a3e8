import Foundation

/// Runs work items on a few threads with large stacks. The YAML composer recurses once per
/// nesting level (libyaml allows 1,000), which overflows the 512 KiB stack of a secondary thread
/// near 200 levels; 64 MiB leaves room for any document libyaml accepts.
enum LargeStackWorkers {
    static let stackSize = 64 << 20

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
