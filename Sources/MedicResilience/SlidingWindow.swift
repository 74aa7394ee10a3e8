import Foundation

/// Outcomes and latencies over the last `length` seconds, in a ring of `buckets` equal slices:
/// memory is fixed whatever the traffic, and old slices are dropped as time moves on.
///
/// Latencies are counted in log-scale classes (four per doubling, from 1 µs to about 2 hours):
/// a percentile is known to within a class (about 19%), which is what a limit needs.
public struct SlidingWindow: Sendable {
    public let length: Double
    public let buckets: Int
    private var slices: [Slice]
    /// The index of the slice each position holds (to know a stale one).
    private var epochs: [Int64]

    static let classes = 4 * 33

    struct Slice: Sendable {
        var successes = 0
        var failures = 0
        var latencies = [UInt32](repeating: 0, count: SlidingWindow.classes)
    }

    public init(length: Double, buckets: Int = 60) {
        self.length = max(length, 0.001)
        self.buckets = max(1, buckets)
        slices = Array(repeating: Slice(), count: self.buckets)
        epochs = Array(repeating: Int64.min, count: self.buckets)
    }

    private var sliceLength: Double { length / Double(buckets) }

    private mutating func slice(at time: Double) -> Int {
        let epoch = Int64((time / sliceLength).rounded(.down))
        let position = Int(((epoch % Int64(buckets)) + Int64(buckets)) % Int64(buckets))
        if epochs[position] != epoch {
            slices[position] = Slice()
            epochs[position] = epoch
        }
        return position
    }

    /// Records one call's outcome and latency (seconds) at `time` (the clock's seconds).
    public mutating func record(success: Bool, latency: Double, at time: Double) {
        let position = slice(at: time)
        if success { slices[position].successes += 1 } else { slices[position].failures += 1 }
        slices[position].latencies[Self.latencyClass(latency)] &+= 1
    }

    /// The slices still inside the window at `time`.
    private func live(at time: Double) -> [Slice] {
        let newest = Int64((time / sliceLength).rounded(.down))
        return (0..<buckets).compactMap { position in
            let epoch = epochs[position]
            return epoch > newest - Int64(buckets) && epoch <= newest ? slices[position] : nil
        }
    }

    public struct Summary: Sendable, Equatable {
        public var successes: Int
        public var failures: Int
        public var calls: Int { successes + failures }
        /// Failures over calls; 0 without calls.
        public var errorRate: Double { calls == 0 ? 0 : Double(failures) / Double(calls) }
        /// The 99th percentile latency in seconds (the upper edge of its class); nil without calls.
        public var p99: Double?
    }

    public func summary(at time: Double) -> Summary {
        var successes = 0, failures = 0
        var counts = [Int](repeating: 0, count: Self.classes)
        for slice in live(at: time) {
            successes += slice.successes
            failures += slice.failures
            for index in 0..<Self.classes { counts[index] += Int(slice.latencies[index]) }
        }
        let total = counts.reduce(0, +)
        var p99: Double?
        if total > 0 {
            let rank = Int((Double(total) * 0.99).rounded(.up))
            var seen = 0
            for index in 0..<Self.classes {
                seen += counts[index]
                if seen >= rank { p99 = Self.upperEdge(index); break }
            }
        }
        return Summary(successes: successes, failures: failures, p99: p99)
    }

    /// Class of a latency: 4 per doubling above 1 µs.
    static func latencyClass(_ seconds: Double) -> Int {
        let micros = seconds * 1_000_000
        guard micros > 1, micros.isFinite else { return micros.isFinite ? 0 : classes - 1 }
        return min(classes - 1, Int((log2(micros) * 4).rounded(.up)))
    }

    static func upperEdge(_ index: Int) -> Double { pow(2, Double(index) / 4) / 1_000_000 }
}
