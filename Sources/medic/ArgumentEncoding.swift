import Foundation
import MedicModel

/// Arguments must be UTF-8. Swift reads the command line as UTF-8 and replaces bytes that are
/// not with U+FFFD, so a parameter `caf\351` would reach a step as `caf\u{FFFD}`: a value changed
/// without a word. Medic passes values unchanged or not at all, so such an argument is refused
/// before anything else happens, naming it.
enum ArgumentEncoding {
    /// Options whose value is `NAME=VALUE` (or `NAME,LABEL=VALUE`): the refusal names NAME.
    static let namedValues: Set<String> = ["--param", "--label", "--target", "--sign-off"]

    /// Why the command line cannot be taken (nil: every argument is UTF-8). `arguments` are the
    /// raw bytes of argv, the program name first.
    static func refusal(_ arguments: [[UInt8]]) -> String? {
        let hint = "Medic passes values unchanged and cannot pass this one; give it as UTF-8"
        for (index, bytes) in arguments.enumerated().dropFirst() where firstInvalidByte(bytes) != nil {
            let previous = index > 1 ? String(decoding: arguments[index - 1], as: UTF8.self) : ""
            var option = previous.hasPrefix("--") ? previous : nil
            var value = bytes
            if bytes.starts(with: Array("--".utf8)), let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                option = String(decoding: bytes[..<eq], as: UTF8.self)
                value = Array(bytes[(eq + 1)...])
            }
            if let option, namedValues.contains(option),
               let eq = value.firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ",") }),
               firstInvalidByte(Array(value[..<eq])) == nil {
                let name = String(decoding: value[..<eq], as: UTF8.self), given = Array(value[(eq + 1)...])
                return "\(option) \(name): the value '\(escaped(given))' \(problem(given)); \(hint)"
            }
            if let option { return "\(option) '\(escaped(value))' \(problem(value)); \(hint)" }
            return "argument \(index) '\(escaped(bytes))' \(problem(bytes)); \(hint)"
        }
        return nil
    }

    private static func problem(_ bytes: [UInt8]) -> String {
        guard let bad = firstInvalidByte(bytes) else { return "is valid UTF-8" }
        return "is not valid UTF-8 (byte 0x\(String(format: "%02X", bytes[bad])) at offset \(bad))"
    }

    /// The raw arguments of this process.
    static var commandLine: [[UInt8]] {
        (0..<Int(CommandLine.argc)).map { index in
            guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
        }
    }

    static func firstInvalidByte(_ bytes: [UInt8]) -> Int? {
        UTF8Validation.firstInvalidByte(in: bytes)
    }

    /// The argument as text, each byte that is not part of valid UTF-8 written `\ooo` (octal, as
    /// a shell's `printf` takes it back).
    static func escaped(_ bytes: [UInt8]) -> String {
        var out = "", start = 0
        while start < bytes.count {
            let rest = Array(bytes[start...])
            guard let bad = firstInvalidByte(rest) else {
                out += String(decoding: rest, as: UTF8.self)
                break
            }
            out += String(decoding: rest[..<bad], as: UTF8.self) + String(format: "\\%03o", rest[bad])
            start += bad + 1
        }
        return out
    }
}
