/// A check that bytes are one JSON object (RFC 8259), without building it: every record is
/// checked on append and on read, and JSONSerialization spent about 5 µs on a 370-byte record
/// (the batched append ran at a quarter of its floor). Lines with bytes outside ASCII, or a
/// `\u` escape of a surrogate, are left to JSONSerialization (UTF-8 and surrogate pairing).
/// Stricter than Foundation on Linux in one way: a trailing comma is refused, as RFC 8259, jq
/// and Python's json module refuse it.
enum JSONSyntax {
    enum Verdict: Equatable {
        case object, notObject, invalid
        /// Not decided here: ask JSONSerialization.
        case undecided
    }

    static let maximumDepth = 512

    static func check(_ bytes: UnsafeBufferPointer<UInt8>) -> Verdict {
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.peek == UInt8(ascii: "{") else {
            return scanner.index < bytes.count ? .notObject : .invalid
        }
        do {
            try scanner.value(depth: 0)
            scanner.skipSpace()
            return scanner.index == bytes.count ? .object : .invalid
        } catch Failure.undecided {
            return .undecided
        } catch {
            return .invalid
        }
    }

    enum Failure: Error { case invalid, undecided }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard peek == byte else { throw Failure.invalid }
            index += 1
        }

        mutating func value(depth: Int) throws {
            guard depth < JSONSyntax.maximumDepth else { throw Failure.undecided }
            skipSpace()
            guard let byte = peek else { throw Failure.invalid }
            switch byte {
            case UInt8(ascii: "{"):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "}") { index += 1; return }
                while true {
                    skipSpace()
                    try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    return
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "]") { index += 1; return }
                while true {
                    try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return
                }
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try word("true")
            case UInt8(ascii: "f"): try word("false")
            case UInt8(ascii: "n"): try word("null")
            default: try number()
            }
        }

        mutating func word(_ text: StaticString) throws {
            let count = text.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw Failure.invalid }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { throw Failure.invalid }
            index += count
        }

        mutating func string() throws {
            try expect(UInt8(ascii: "\""))
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { throw Failure.invalid }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        var code = 0
                        for _ in 0..<4 {
                            guard let digit = peek.flatMap(hexValue) else { throw Failure.invalid }
                            code = code * 16 + digit
                            index += 1
                        }
                        if (0xD800...0xDFFF).contains(code) { throw Failure.undecided }
                    default: throw Failure.invalid
                    }
                case 0..<0x20: throw Failure.invalid
                case 0x80...: throw Failure.undecided
                default: continue
                }
            }
            throw Failure.invalid
        }

        func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
            default: nil
            }
        }

        mutating func digits() throws {
            guard let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw Failure.invalid }
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        }

        mutating func number() throws {
            if peek == UInt8(ascii: "-") { index += 1 }
            if peek == UInt8(ascii: "0") { index += 1 } else { try digits() }
            if peek == UInt8(ascii: ".") { index += 1; try digits() }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                try digits()
            }
        }
    }
}
