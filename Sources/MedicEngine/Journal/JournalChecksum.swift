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

    /// The CRC-32C of `bytes` (reflected polynomial 0x82F63B78).
    static func crc32c<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        let table = Self.table
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }

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
