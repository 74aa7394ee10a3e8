/// The last `capacity` values of a series, kept twice: in arrival order (a ring, to know which
/// value leaves) and in sorted order (for order statistics), the sorted copy split into blocks
/// of about √capacity values (at least 64).
///
/// Appending costs a binary search over the blocks' last values, a binary search and an insert
/// inside one block, and the same for the value that leaves: O(log w + √w) moves of 8 bytes.
/// A rank lookup walks the block sizes: O(√w). For the default windows (≤ 128 values) there
/// is one block, i.e. a sorted array with binary search. Blocks split above 2·blockSize values
/// and merge into a neighbour below blockSize/4, so there are at most 4·w/blockSize + 1 of them.
///
/// Memory: 16·capacity bytes of values (the blocks' arrays may have grown ahead of their
/// values by up to as much again) plus 40 bytes per block and 32 for the ring's header.
struct OrderedWindow: Sendable {
    let capacity: Int
    private var ring: [Double] = []
    /// Where the next value goes in `ring`: the oldest value once the window is full.
    private var next = 0
    private var blocks: [[Double]] = []
    private let blockSize: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        var root = 1
        while (root + 1) * (root + 1) <= self.capacity { root += 1 }
        self.blockSize = max(64, root)
        ring.reserveCapacity(self.capacity)
    }

    var isFull: Bool { count == capacity }

    /// Adds `value`; when the window is full, the oldest value leaves.
    mutating func append(_ value: Double) {
        if count == capacity {
            remove(ring[next])
            ring[next] = value
        } else {
            ring.append(value)
            count += 1
        }
        next += 1
        if next == capacity { next = 0 }
        insert(value)
    }

    /// The value of rank `rank` (0 = smallest); `rank` must be in 0..<count.
    func value(atRank rank: Int) -> Double {
        var rest = rank
        for index in blocks.indices {
            let size = blocks[index].count
            if rest < size { return blocks[index][rest] }
            rest -= size
        }
        return blocks.last?.last ?? 0
    }

    /// The `p` quantile (0...1) with linear interpolation between the closest ranks (numpy's
    /// default, "linear"): position `h = (n − 1)·p`, `v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋])`.
    /// 0 for an empty window.
    func quantile(_ p: Double) -> Double {
        guard count > 0 else { return 0 }
        let h = Double(count - 1) * min(1, max(0, p))
        let lower = Int(h)
        let a = value(atRank: lower)
        guard lower + 1 < count else { return a }
        let fraction = h - Double(lower)
        return fraction == 0 ? a : a + fraction * (value(atRank: lower + 1) - a)
    }

    // MARK: The sorted blocks

    /// The first block whose last value is ≥ `value` (or the last block).
    private func block(for value: Double) -> Int {
        var low = 0, high = blocks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if blocks[mid][blocks[mid].count - 1] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func lowerBound(_ block: [Double], _ value: Double) -> Int {
        var low = 0, high = block.count
        while low < high {
            let mid = (low + high) / 2
            if block[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func insert(_ value: Double) {
        guard !blocks.isEmpty else {
            blocks = [[value]]
            return
        }
        let b = block(for: value)
        blocks[b].insert(value, at: Self.lowerBound(blocks[b], value))
        if blocks[b].count > 2 * blockSize {
            let upper = Array(blocks[b][blockSize...])
            blocks[b].removeSubrange(blockSize...)
            blocks.insert(upper, at: b + 1)
        }
    }

    private mutating func remove(_ value: Double) {
        guard !blocks.isEmpty else { return }
        let b = block(for: value)
        let i = Self.lowerBound(blocks[b], value)
        // Always true: values are finite copies of what was inserted (checked, not trusted).
        guard i < blocks[b].count, blocks[b][i] == value else { return }
        blocks[b].remove(at: i)
        if blocks[b].isEmpty {
            blocks.remove(at: b)
        } else if blocks[b].count < blockSize / 4 && blocks.count > 1 {
            // Merge into a neighbour (values stay sorted: neighbours are adjacent ranges).
            let into = b > 0 ? b - 1 : b + 1
            let (low, high) = into < b ? (into, b) : (b, into)
            blocks[low].append(contentsOf: blocks[high])
            blocks.remove(at: high)
            if blocks[low].count > 2 * blockSize {
                let upper = Array(blocks[low][blockSize...])
                blocks[low].removeSubrange(blockSize...)
                blocks.insert(upper, at: low + 1)
            }
        }
    }
}
