import MedicModel
import MedicText

extension JSONDocumentReader {
    /// The string here (its opening quote next), escapes undone. A string longer than
    /// `maxScalarLength` characters (a `\u` escape not counted) is refused where it passes the
    /// limit, unless a syntax error comes first.
    mutating func string() throws -> String {
        let open = cursor.offset
        let span: JSONStringSpan
        do throws(JSONTextError) {
            span = try cursor.scanString()
        } catch {
            let bound = error.kind == .unterminatedString ? bytes.count : error.offset
            if let over = offsetPastLimit(from: open + 1, to: bound) { throw tooLong(at: over) }
            throw failure(error)
        }
        if let over = offsetPastLimit(from: span.start, to: span.end) { throw tooLong(at: over) }
        return cursor.text(of: span)
    }

    private mutating func tooLong(at offset: Int) -> Failure {
        fail("a string over the limit of \(limits.maxScalarLength) characters", code: .scalarTooLong, at: offset)
    }

    /// Where, in `from..<to`, the string passes `maxScalarLength` characters (the offset just
    /// after the character that does), or nil. Each character and each short escape (`\n`)
    /// counts one; a `\u` escape counts none.
    private func offsetPastLimit(from: Int, to: Int) -> Int? {
        guard to - from > limits.maxScalarLength else { return nil }
        var length = 0, k = from
        while k < to {
            if bytes[k] == UInt8(ascii: "\\") {
                guard k + 1 < to else { return nil }
                if bytes[k + 1] == UInt8(ascii: "u") {
                    k += 6
                    continue
                }
                k += 2
            } else {
                k += 1
                while k < to, bytes[k] & 0xC0 == 0x80 { k += 1 }
            }
            length += 1
            if length > limits.maxScalarLength { return k }
        }
        return nil
    }

    /// A string's error, worded and placed as a reader of characters finds it.
    private mutating func failure(_ error: JSONTextError) -> Failure {
        var at = error.offset
        switch error.kind {
        case .unterminatedString:
            return fail("unterminated string", at: bytes.count)
        case .controlCharacterInString:
            return fail("control character in a string", hint: "escape it, e.g. \\n", at: at)
        case .invalidEscape:
            var end = at + 2
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            let escaped = String(decoding: UnsafeBufferPointer(rebasing: bytes[(at + 1)..<end]), as: UTF8.self)
            return fail("invalid escape '\\\(escaped)'", at: at + 1)
        case .invalidUnicodeEscape:
            // Fewer than four bytes were left: the first of them that is not a digit, or the end.
            while at < bytes.count, JSONCursor.isHexDigit(bytes[at]) { at += 1 }
            return fail("expected four hex digits after \\u", at: at)
        case .unpairedHighSurrogate:
            if at < bytes.count, bytes[at] == UInt8(ascii: "\\") { at += 1 }
            return fail("unpaired surrogate in \\u escape", at: at)
        case .invalidLowSurrogate:
            return fail("unpaired surrogate in \\u escape", at: at)
        case .loneLowSurrogate:
            return fail("invalid \\u escape", at: at)
        default:
            return fail("\(error)", at: at)
        }
    }
}
