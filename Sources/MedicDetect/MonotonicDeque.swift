/// The running minimum (or maximum) of the samples of a sliding time span: a deque of samples
/// whose values increase (for the minimum) or decrease (for the maximum) from front to back.
/// A new sample first removes from the back every sample it makes irrelevant (an older sample
/// that is not lower, for the minimum, can never be the minimum again), so the front is always
/// the extreme of the span; samples leave the front as they fall out of the span. Each sample
/// enters and leaves once: amortised O(1) per sample.
///
/// At most `limit` samples are kept (a long strictly rising run within the span keeps them
/// all); past that the oldest is dropped, which shortens the span to the newest `limit`
/// candidates. The storage is a ring that starts at 8 samples and doubles up to `limit`:
/// 16 bytes per sample kept.
struct MonotonicDeque: Sendable {
    enum Extreme: Sendable { case minimum, maximum }

    private struct Entry: Sendable {
        var time: Double
        var value: Double
    }

    let extreme: Extreme
    let limit: Int
    private var storage: [Entry] = []
    private var head = 0
    private(set) var count = 0

    init(_ extreme: Extreme, limit: Int) {
        self.extreme = extreme
        self.limit = max(1, limit)
    }

    /// The extreme value of the samples kept, nil when there are none.
    var front: Double? { count > 0 ? storage[head].value : nil }

    /// Drops the samples older than `horizon` (a sample at exactly `horizon` stays).
    mutating func drop(before horizon: Double) {
        while count > 0, storage[head].time < horizon { popFront() }
    }

    mutating func push(time: Double, value: Double) {
        while count > 0 {
            let back = storage[slot(count - 1)].value
            let obsolete = extreme == .minimum ? back >= value : back <= value
            guard obsolete else { break }
            count -= 1
        }
        if count == limit { popFront() }
        if count == storage.count { grow() }
        storage[slot(count)] = Entry(time: time, value: value)
        count += 1
    }

    private func slot(_ offset: Int) -> Int {
        let index = head + offset
        return index >= storage.count ? index - storage.count : index
    }

    private mutating func popFront() {
        head += 1
        if head == storage.count { head = 0 }
        count -= 1
    }

    private mutating func grow() {
        let size = min(limit, max(8, storage.count * 2))
        var bigger: [Entry] = []
        bigger.reserveCapacity(size)
        for offset in 0..<count { bigger.append(storage[slot(offset)]) }
        bigger.append(contentsOf: repeatElement(Entry(time: 0, value: 0), count: size - count))
        storage = bigger
        head = 0
    }
}
