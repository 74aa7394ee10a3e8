@testable import MedicEngine
import XCTest

/// The CRC-32C that seals journal and index lines is the same whichever way it is computed:
/// eight bytes a step over contiguous bytes, one at a time otherwise, and the textbook loop.
final class JournalChecksumTests: XCTestCase {
    /// The textbook CRC-32C, one bit at a time: what the sealed lines on disk were written with.
    private func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    func testTheCheckValueOfCRC32C() {
        XCTAssertEqual(JournalChecksum.crc32c(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(JournalChecksum.crc32c([UInt8]()), 0)
    }

    func testContiguousSlicedAndOneByteAtATimeAgreeOnEveryLengthAndOffset() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for end in stride(from: start, through: bytes.count, by: 1) {
                let part = Array(bytes[start..<end])
                let expected = reference(part)
                XCTAssertEqual(JournalChecksum.crc32c(part), expected, "array \(start)..<\(end)")
                XCTAssertEqual(JournalChecksum.crc32c(bytes[start..<end]), expected, "slice \(start)..<\(end)")
                // Not contiguous: the byte-at-a-time path.
                XCTAssertEqual(JournalChecksum.crc32c(part.lazy.map { $0 }), expected, "lazy \(start)..<\(end)")
            }
        }
    }

    func testASealedLineStillReadsAndAChangedByteIsStillFound() throws {
        let body = Array(#"{"at":"2026-11-23T10:15:00.000Z","event":"run_started","seq":1,"text":"é ✓ 😀"}"#.utf8)
        let line = JournalChecksum.seal(body)
        XCTAssertEqual(try JournalChecksum.unseal(line[...]).get(), body)
        for position in 0..<(line.count - JournalChecksum.sealLength) {
            var changed = line
            changed[position] ^= 0x01
            XCTAssertThrowsError(try JournalChecksum.unseal(changed[...]).get(), "byte \(position)")
        }
    }
}
