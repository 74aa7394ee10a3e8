import MedicText

/// A check that bytes are one JSON object (RFC 8259), without building it: every record is
/// checked on append and on read, and JSONSerialization spent about 5 µs on a 370-byte record
/// (the batched append ran at a quarter of its floor). Lines with bytes outside ASCII, or a
/// lone `\u` surrogate, are left to JSONSerialization (UTF-8 and surrogate pairing), as is
/// nesting deeper than `maximumDepth`. Stricter than Foundation on Linux in one way: a trailing
/// comma is refused, as RFC 8259, jq and Python's json module refuse it.
enum JSONSyntax {
    enum Verdict: Equatable {
        case object, notObject, invalid
        /// Not decided here: ask JSONSerialization.
        case undecided
    }

    static let maximumDepth = 512

    static func check(_ bytes: UnsafeBufferPointer<UInt8>) -> Verdict {
        var cursor = JSONCursor(bytes)
        cursor.skipWhitespace()
        guard cursor.peek == UInt8(ascii: "{") else {
            return cursor.atEnd ? .invalid : .notObject
        }
        do throws(JSONTextError) {
            try cursor.skipValue(depth: maximumDepth)
            cursor.skipWhitespace()
            guard cursor.atEnd else { return .invalid }
            return isASCII(bytes) ? .object : .undecided
        } catch {
            switch error.kind {
            case .tooDeep, .invalidUTF8, .unpairedHighSurrogate, .invalidLowSurrogate, .loneLowSurrogate: return .undecided
            default: return .invalid
            }
        }
    }

    /// No byte above 0x7F (an OR of every byte, which the compiler vectorizes).
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var any: UInt8 = 0
        for byte in bytes { any |= byte }
        return any < 0x80
    }
}
