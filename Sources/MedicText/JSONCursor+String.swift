/// A string's contents in the text being read: the bytes between its quotes.
@frozen
public struct JSONStringSpan: Sendable, Equatable {
    public var start: Int, end: Int
    /// It holds a backslash escape: its text is not its bytes.
    public var escaped: Bool
    /// Every byte is ASCII.
    public var ascii: Bool
    public var count: Int { end - start }

    @inlinable
    public init(start: Int, end: Int, escaped: Bool, ascii: Bool) {
        self.start = start
        self.end = end
        self.escaped = escaped
        self.ascii = ascii
    }
}

extension JSONCursor {
    /// Reads a string (the opening quote next) and checks it whole: escapes, surrogate pairs,
    /// no control character, UTF-8. Returns where its contents are, without building them.
    ///
    /// The loop here is the whole scan of a string without a backslash (nearly every string
    /// Medic reads), on locals so that the position stays in a register; the first backslash
    /// hands the rest of the string to `scanEscapedString`.
    @inlinable
    public mutating func scanString() throws(JSONTextError) -> JSONStringSpan {
        let bytes = self.bytes, count = bytes.count
        let open = offset
        guard open < count, bytes[open] == UInt8(ascii: "\"") else {
            throw open < count ? error(.unexpectedByte(bytes[open]), at: open) : error(.unexpectedEnd, at: open)
        }
        let start = open + 1
        var at = start, ascii = true
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control character or
            // above ASCII (a word "has a zero byte" test on each; a hit anywhere in the word
            // stops the skip and the bytes are then looked at one by one).
            while at &+ 8 <= count {
                let word = UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped + at).loadUnaligned(as: UInt64.self)
                let quote = word ^ (0x22 &* ones), backslash = word ^ (0x5C &* ones)
                let hit = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- 0x20 &* ones) & ~word) | word
                if hit & highs != 0 { break }
                at &+= 8
            }
            guard at < count else { throw error(.unterminatedString, at: open) }
            let byte = bytes[at]
            if byte == UInt8(ascii: "\"") {
                offset = at &+ 1
                guard ascii || Self.isValidUTF8(UnsafeBufferPointer(rebasing: bytes[start..<at])) else {
                    throw error(.invalidUTF8, at: open)
                }
                return JSONStringSpan(start: start, end: at, escaped: false, ascii: ascii)
            }
            if byte == UInt8(ascii: "\\") {
                offset = at
                return try scanEscapedString(open: open, ascii: ascii)
            }
            guard byte >= 0x20 else { throw error(.controlCharacterInString, at: at) }
            if byte >= 0x80 { ascii = false }
            at &+= 1
        }
    }

    /// The rest of a string `scanString` began, from its first backslash (at `offset`) on: the
    /// same checks, one byte at a time, escapes included.
    @usableFromInline
    mutating func scanEscapedString(open: Int, ascii: Bool) throws(JSONTextError) -> JSONStringSpan {
        var span = JSONStringSpan(start: open + 1, end: open + 1, escaped: true, ascii: ascii)
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                span.end = offset
                offset += 1
                guard span.ascii || Self.isValidUTF8(UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])) else {
                    throw error(.invalidUTF8, at: open)
                }
                return span
            }
            if byte == UInt8(ascii: "\\") {
                try escape(open: open)
                continue
            }
            guard byte >= 0x20 else { throw error(.controlCharacterInString, at: offset) }
            if byte >= 0x80 { span.ascii = false }
            offset += 1
        }
        throw error(.unterminatedString, at: open)
    }

    /// Checks the escape at `offset` (a backslash) and moves past it.
    @usableFromInline
    mutating func escape(open: Int) throws(JSONTextError) {
        let backslash = offset
        guard offset + 1 < bytes.count else { throw error(.unterminatedString, at: open) }
        switch bytes[offset + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            offset += 2
        case UInt8(ascii: "u"):
            offset += 2
            let scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw error(.unpairedHighSurrogate, at: offset)
                }
                offset += 2
                guard (0xDC00...0xDFFF).contains(try hex4()) else { throw error(.invalidLowSurrogate, at: offset) }
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error(.loneLowSurrogate, at: offset)
            }
        default:
            throw error(.invalidEscape, at: backslash)
        }
    }

    /// The four hexadecimal digits at `offset`, moved past.
    @usableFromInline
    mutating func hex4() throws(JSONTextError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error(.invalidUnicodeEscape, at: offset) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[offset]) else { throw error(.invalidUnicodeEscape, at: offset) }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    public static func isHexDigit(_ byte: UInt8) -> Bool { hexValue(byte) != nil }

    @inlinable
    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: UInt32(byte - 0x30)
        case 0x41...0x46: UInt32(byte - 0x41 + 10)
        case 0x61...0x66: UInt32(byte - 0x61 + 10)
        default: nil
        }
    }

    /// Reads a string (the opening quote next): its text, escapes undone.
    @inlinable
    public mutating func readString() throws(JSONTextError) -> String {
        let span = try scanString()
        return text(of: span)
    }

    /// The text of a span `scanString` returned (so its escapes are known to be valid).
    @inlinable
    public func text(of span: JSONStringSpan) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        return span.escaped ? Self.unescaped(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// Whether the span's text is `word` (an escaped span never is: the caller reads it whole).
    @inlinable
    public func span(_ span: JSONStringSpan, is word: StaticString) -> Bool {
        guard !span.escaped, span.count == word.utf8CodeUnitCount else { return false }
        for k in 0..<span.count where bytes[span.start + k] != word.utf8Start[k] { return false }
        return true
    }

    /// A checked string's contents with its escapes undone.
    @usableFromInline
    static func unescaped(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var k = 0
        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for c in raw[at..<(at + 4)] { value = value << 4 | (hexValue(c) ?? 0) }
            return value
        }
        while k < raw.count {
            let c = raw[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            switch raw[k + 1] {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(k + 2)
                k += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex4(k + 4) - 0xDC00)
                    k += 6
                }
                // scanString refused lone surrogates, so every scalar here is one.
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: out.append(raw[k + 1])  // " \ /
            }
            k += 2
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `bytes` are well-formed UTF-8 (Unicode 15 table 3-7: no overlong form, no
    /// surrogate, nothing above U+10FFFF, no cut sequence).
    public static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var k = 0
        while k < bytes.count {
            let lead = bytes[k]
            if lead < 0x80 { k += 1; continue }
            let length: Int, low: UInt8, high: UInt8
            switch lead {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return false
            }
            guard k + length <= bytes.count, (low...high).contains(bytes[k + 1]) else { return false }
            for c in 2..<length where bytes[k + c] & 0xC0 != 0x80 { return false }
            k += length
        }
        return true
    }
}
