import Foundation

/// The one shape a record of a JSON Lines file may have: a JSON object on one line.
enum JSONLine {
    static let newline = UInt8(ascii: "\n")

    /// Why `bytes` cannot be a record, or nil when it can.
    static func refusal(_ bytes: [UInt8]) -> String? {
        if bytes.isEmpty { return "an empty record" }
        if bytes.contains(newline) || bytes.contains(UInt8(ascii: "\r")) {
            return "a record must be on one line (it contains a line break)"
        }
        return objectRefusal(bytes[...])
    }

    /// Why `bytes` (one line, without its newline) is not a JSON object, or nil when it is.
    static func objectRefusal(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let first = bytes.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else {
            return "an empty line, not a JSON object"
        }
        // Anything else than an object is refused before parsing (cheap, and a clearer message).
        guard first == UInt8(ascii: "{") else { return "not a JSON object" }
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
