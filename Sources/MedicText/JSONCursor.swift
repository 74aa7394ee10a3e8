/// A position in JSON text (RFC 8259, UTF-8) and the reads every JSON reader in Medic is made
/// of: whitespace, a string (its span, or its text with escapes undone and surrogate pairs
/// joined), a number, a literal, a whole value skipped. Each read either moves past what it
/// read or throws a `JSONTextError` naming what is wrong and the byte offset where it is; it
/// never reads outside `bytes` and never traps on any input.
///
/// The readers differ in what they build and in what they do with an error (a located
/// diagnostic, a message with a column, "leave this line to the strict decoder"), not in how
/// JSON is scanned.
@frozen
public struct JSONCursor {
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The byte offset of the next read.
    public var offset: Int

    @inlinable
    public init(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable
    public var atEnd: Bool { offset >= bytes.count }

    /// The byte at `offset`, nil at the end.
    @inlinable
    public var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    @inlinable
    public mutating func skipWhitespace() {
        while offset < bytes.count {
            let byte = bytes[offset]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            offset += 1
        }
    }

    /// Moves past `byte` when it is next; false (and no move) otherwise.
    @inlinable
    public mutating func take(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    /// Moves past `word` (`true`, `false`, `null`) when its bytes are next. Only those bytes are
    /// compared: what follows is the caller's to check.
    @inlinable @inline(__always)
    public mutating func take(literal word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - offset >= count else { return false }
        for k in 0..<count where bytes[offset + k] != word.utf8Start[k] { return false }
        offset += count
        return true
    }

    @usableFromInline
    func error(_ kind: JSONTextError.Kind, at offset: Int) -> JSONTextError {
        JSONTextError(kind, at: offset)
    }
}

/// What is wrong with JSON text, and the byte offset where it is.
public struct JSONTextError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The text ends where a value, a member or a closing bracket is needed.
        case unexpectedEnd
        /// A byte that cannot start or continue what is being read (offset: that byte).
        case unexpectedByte(UInt8)
        /// A string without its closing quote (offset: the opening quote).
        case unterminatedString
        /// A byte below U+0020 inside a string (offset: that byte).
        case controlCharacterInString
        /// `\` followed by a byte that is no escape (offset: the backslash).
        case invalidEscape
        /// `\u` without four hexadecimal digits (offset: the first digit that is not one, or
        /// the first digit's place when fewer than four bytes are left).
        case invalidUnicodeEscape
        /// A high surrogate `\uD800`-`\uDBFF` not followed by `\u` and a low one (offset: just
        /// after the high surrogate's digits).
        case unpairedHighSurrogate
        /// A high surrogate followed by `\u` that is not a low surrogate (offset: just after
        /// the second escape's digits).
        case invalidLowSurrogate
        /// A low surrogate `\uDC00`-`\uDFFF` with no high one before it (offset: just after
        /// its digits).
        case loneLowSurrogate
        /// Bytes in a string that are not UTF-8 (offset: the opening quote).
        case invalidUTF8
        /// Not RFC 8259's number grammar: a leading zero, a `-`, `.` or exponent without
        /// digits (offset: the byte where a digit was needed, or the digit after a leading zero).
        case invalidNumber
        /// Nested deeper than the reader allows (offset: the bracket that is one too deep).
        case tooDeep
    }

    public var kind: Kind
    public var offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }
}
