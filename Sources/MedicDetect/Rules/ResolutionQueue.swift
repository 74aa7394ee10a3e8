/// Incidents waiting to resolve, by deadline: a binary min-heap, so that each sample pays
/// O(log n) for the incidents that became quiet rather than a scan of all of them. Entries are
/// invalidated lazily: an incident that fires again bumps its generation, and a stale entry is
/// dropped when it reaches the top.
struct ResolutionQueue: Sendable {
    struct Entry: Sendable {
        var deadline: Double
        var slot: Int
        var key: String
        var generation: Int
    }

    private var heap: [Entry] = []

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The entry with the earliest deadline, removed, when that deadline is at most `time`.
    mutating func popDue(at time: Double) -> Entry? {
        guard let first = heap.first, first.deadline <= time else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count, heap[right].deadline < heap[smallest].deadline { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
