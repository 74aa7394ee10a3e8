import Foundation

/// Numbers byte strings (a line's playbook id as written) without making a `String` of each:
/// an open-addressing table over one byte store, so a lookup hashes and compares bytes and only
/// a spelling never seen before allocates. The caller decides what number a new spelling gets
/// (two spellings may name one playbook: an escape, another Unicode normalisation).
struct ByteInterner {
    private var bytes: [UInt8] = []
    private var entries: [(hash: UInt64, start: Int, count: Int, number: Int)] = []
    /// Index into `entries` + 1; 0 is empty. Its count is a power of two.
    private var slots = [Int32](repeating: 0, count: 64)

    /// The number of `key`, or nil when it was never inserted.
    func number(of key: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let entry = entries[Int(slots[slot]) - 1]
            if entry.hash == hash, entry.count == key.count,
               bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress! + entry.start, key.baseAddress!, key.count) == 0 }) {
                return entry.number
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Remembers `key` (not present) as `number`.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, hash: UInt64, number: Int) {
        if (entries.count + 1) * 2 > slots.count { grow() }
        entries.append((hash, bytes.count, key.count, number))
        bytes.append(contentsOf: key)
        place(entries.count - 1)
    }

    private mutating func place(_ index: Int) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: entries[index].hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index + 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for index in entries.indices { place(index) }
    }

    /// FNV-1a, 64 bits.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h ^ (h >> 29)
    }
}
