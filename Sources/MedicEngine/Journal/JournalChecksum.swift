/// The checksum that seals each line of a run journal.
///
/// A line is the record's JSON with one more key at its end: `{...,"crc":"xxxxxxxx"}`, where
/// the eight lowercase hex digits are the CRC-32C (Castagnoli) of the record's JSON without it
/// (the same bytes with `,"crc":"xxxxxxxx"` taken out). CRC-32C detects every change of up to
/// 32 consecutive bits, so any single changed byte of a line is found; the digits are compared
/// as written (an `A` for an `a` is damage too).
enum JournalChecksum {
    /// `,"crc":"` then 8 hex digits, `"` and the closing `}`.
    static let sealLength = 18
    private static let key: [UInt8] = Array(#","crc":""#.utf8)
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// The CRC-32C of `bytes` (reflected polynomial 0x82F63B78): eight bytes a step when they
    /// are contiguous (every index line and journal line is checked, and `medic runs` reads them
    /// all), else one at a time.
    static func crc32c<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        if let crc = bytes.withContiguousStorageIfAvailable({ crc32c(UnsafeRawBufferPointer($0)) }) { return crc }
        var crc: UInt32 = 0xFFFF_FFFF
        let table = Self.tables
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    /// The CRC-32C of contiguous bytes, by slicing by 8: eight tables, where table k maps a byte
    /// to its contribution k bytes further on, so eight bytes are folded in with eight lookups.
    static func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        guard let base = bytes.baseAddress else { return 0 }
        let count = bytes.count
        var i = 0
        tables.withUnsafeBufferPointer { t in
            while i + 8 <= count {
                let low = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ crc
                let high = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                i += 8
            }
            while i < count {
                crc = t[Int((crc ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        return ~crc
    }

    /// Eight tables of 256 entries, one after the other: the first is the classic byte-at-a-time
    /// table; entry n of table k is entry n of table k-1 carried one byte further.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var value = UInt32(index)
            for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
            tables[index] = value
        }
        for k in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(k - 1) * 256 + index]
                tables[k * 256 + index] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return tables
    }()

    /// The line of a record whose JSON is `body` (an object, `{...}`), sealed: the checksum key
    /// written in before its closing brace.
    static func seal(_ body: [UInt8]) -> [UInt8] {
        precondition(body.count >= 2 && body.last == UInt8(ascii: "}"), "a journal record is a JSON object")
        let crc = crc32c(body)
        var line = body
        line.removeLast()
        line.reserveCapacity(body.count + sealLength)
        line += key
        for shift in stride(from: 28, through: 0, by: -4) { line.append(hex[Int((crc >> UInt32(shift)) & 0xF)]) }
        line.append(UInt8(ascii: "\""))
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// The record's JSON of a sealed `line` (without its newline), or why it is not one.
    static func unseal(_ line: ArraySlice<UInt8>) -> Result<[UInt8], Damage> {
        guard line.count > sealLength + 1, line.last == UInt8(ascii: "}") else { return .failure(.unsealed) }
        let sealStart = line.endIndex - sealLength
        guard line[sealStart..<(sealStart + key.count)].elementsEqual(key), line[line.endIndex - 2] == UInt8(ascii: "\"") else {
            return .failure(.unsealed)
        }
        var body = Array(line[..<sealStart])
        body.append(UInt8(ascii: "}"))
        let crc = crc32c(body)
        var expected: [UInt8] = []
        for shift in stride(from: 28, through: 0, by: -4) { expected.append(hex[Int((crc >> UInt32(shift)) & 0xF)]) }
        guard line[(sealStart + key.count)..<(line.endIndex - 2)].elementsEqual(expected) else { return .failure(.mismatch) }
        return .success(body)
    }

    enum Damage: Error {
        /// The line does not end with a checksum key.
        case unsealed
        /// It does, and the checksum is not that of the rest of the line.
        case mismatch

        var description: String {
            switch self {
            case .unsealed: return "the line has no checksum (it does not end with ,\"crc\":\"xxxxxxxx\"})"
            case .mismatch: return "the line's checksum does not match its content (a byte was changed)"
            }
        }
    }
}
