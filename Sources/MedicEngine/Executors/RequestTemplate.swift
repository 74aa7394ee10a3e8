import Foundation
import MedicModel

/// `${name}` substitution with an escaping rule per place of the request.
enum RequestTemplate {
    /// Replaces each `${name}` (name: letters, digits, `_`, not starting with a digit) by
    /// `escape(value, name)`; other text, including a `$` not followed by such a reference, is kept.
    /// Throws when a name has no value.
    static func substitute(_ template: String, parameters: [String: String], place: String,
                           escape: (String, String) throws -> String) throws -> String {
        var output = ""
        var rest = template[...]
        while let dollar = rest.range(of: "${") {
            output += rest[..<dollar.lowerBound]
            let afterOpen = rest[dollar.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}"), isName(afterOpen[..<close]) else {
                output += "${"
                rest = afterOpen
                continue
            }
            let name = String(afterOpen[..<close])
            guard let value = parameters[name] else {
                throw ExecutorError("${\(name)} in \(place) is not a parameter of the step")
            }
            output += try escape(value, name)
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        return output + rest
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
    }

    /// Percent-encodes every byte except RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
    static func percentEncoded(_ value: String) -> String {
        var output = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output += "%" + hex(UInt32(byte), digits: 2)
            }
        }
        return output
    }

    /// The content of a JSON string literal holding `value` (RFC 8259 §7), without the quotes.
    static func jsonEscaped(_ value: String) -> String {
        var output = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            // Below U+0020 must be escaped; U+2028/U+2029 too, for readers that embed JSON in JavaScript.
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                output += "\\u" + hex(scalar.value, digits: 4)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
