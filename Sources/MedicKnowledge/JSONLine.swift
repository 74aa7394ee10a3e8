import Foundation

/// The one shape a record of a JSON Lines file may have: a JSON object on one line.
public enum JSONLine {
    static let newline = UInt8(ascii: "\n")

    /// Why `bytes` cannot be a record, or nil when it can.
    public static func refusal(_ bytes: [UInt8]) -> String? {
        if bytes.isEmpty { return "an empty record" }
        if bytes.contains(newline) || bytes.contains(UInt8(ascii: "\r")) {
            return "a record must be on one line (it contains a line break)"
        }
        return objectRefusal(bytes[...])
    }

    /// Why `bytes` (one line, without its newline) is not a JSON object, or nil when it is.
    static func objectRefusal(_ bytes: ArraySlice<UInt8>) -> String? {
        let verdict = bytes.withUnsafeBufferPointer { JSONSyntax.check($0) }
        switch verdict {
        case .object: return nil
        case .notObject: return "not a JSON object"
        case .invalid: return bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) ? "an empty line, not a JSON object" : "not valid JSON"
        case .undecided: return foundationRefusal(bytes)
        }
    }

    /// What JSONSerialization says (the reference `JSONSyntax` must agree with).
    static func foundationRefusal(_ bytes: ArraySlice<UInt8>) -> String? {
        do {
            let value = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
            return value is [String: Any] ? nil : "not a JSON object"
        } catch {
            return "not valid JSON"
        }
    }

    /// The encoder for `Encodable` records: sorted keys, never pretty-printed (so one line).
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
