extension JSONCursor {
    /// Reads one value (leading whitespace skipped) and checks it whole, strictly (no trailing
    /// comma, no comment, nothing but `true`, `false`, `null` as a bare word), building nothing.
    /// Objects and arrays may nest `depth` levels: the one beyond is `.tooDeep`.
    public mutating func skipValue(depth: Int) throws(JSONTextError) {
        skipWhitespace()
        guard offset < bytes.count else { throw error(.unexpectedEnd, at: offset) }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            guard depth > 0 else { throw error(.tooDeep, at: offset) }
            offset += 1
            try members { cursor throws(JSONTextError) in try cursor.skipValue(depth: depth - 1) }
        case UInt8(ascii: "["):
            guard depth > 0 else { throw error(.tooDeep, at: offset) }
            offset += 1
            try elements { cursor throws(JSONTextError) in try cursor.skipValue(depth: depth - 1) }
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try scanNumber()
        }
    }

    /// The members of an object whose `{` was just read, up to and past its `}`: `body` is
    /// called at each member's value (whitespace skipped) after its key was read.
    @inlinable
    public mutating func members(_ body: (inout JSONCursor) throws(JSONTextError) -> Void) throws(JSONTextError) {
        try members { cursor, _ throws(JSONTextError) in try body(&cursor) }
    }

    /// As `members(_:)`, with each key's span.
    @inlinable
    public mutating func members(_ body: (inout JSONCursor, JSONStringSpan) throws(JSONTextError) -> Void) throws(JSONTextError) {
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return }
        while true {
            skipWhitespace()
            let key = try scanString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    /// The elements of an array whose `[` was just read, up to and past its `]`: `body` is
    /// called at each element (whitespace skipped).
    @inlinable
    public mutating func elements(_ body: (inout JSONCursor) throws(JSONTextError) -> Void) throws(JSONTextError) {
        skipWhitespace()
        if take(UInt8(ascii: "]")) { return }
        while true {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            if take(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    /// Moves past `byte`, or throws naming what is there instead.
    @inlinable
    public mutating func expect(_ byte: UInt8) throws(JSONTextError) {
        guard offset < bytes.count else { throw error(.unexpectedEnd, at: offset) }
        guard bytes[offset] == byte else { throw error(.unexpectedByte(bytes[offset]), at: offset) }
        offset += 1
    }

    /// Moves past `word`, or throws at its first byte that differs.
    @inlinable
    public mutating func literal(_ word: StaticString) throws(JSONTextError) {
        guard !take(literal: word) else { return }
        var at = offset
        while at < bytes.count, at - offset < word.utf8CodeUnitCount, bytes[at] == word.utf8Start[at - offset] { at += 1 }
        guard at < bytes.count else { throw error(.unexpectedEnd, at: at) }
        throw error(.unexpectedByte(bytes[at]), at: at)
    }
}
