import Foundation

/// A JSON document as `expect_json` reads it: only what comparing a field as text needs.
enum JSONValue: Decodable {
    case null, bool(Bool), number(String), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? container.decode(Int64.self) {
            self = .number(String(integer))
        } else if let double = try? container.decode(Double.self) {
            // 1.0 and 1e3 are the integers 1 and 1000; other numbers print as Swift prints them.
            let exact = double.rounded() == double && abs(double) < 9.0e15
            self = .number(exact ? String(Int64(double)) : String(double))
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value at a dot-separated path: keys of objects, or indexes (from 0) of arrays.
    func value(at path: String) -> JSONValue? {
        var current = self
        for segment in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .object(let members):
                guard let member = members[String(segment)] else { return nil }
                current = member
            case .array(let items):
                guard let index = Int(segment), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The value as `equals` is written: `true`, `1`, `null`, the string itself; nil for an
    /// object or an array.
    var text: String? {
        switch self {
        case .null: "null"
        case .bool(let bool): String(bool)
        case .number(let text): text
        case .string(let string): string
        case .array, .object: nil
        }
    }

    var kind: String {
        switch self {
        case .array: "an array"
        case .object: "an object"
        default: text ?? ""
        }
    }
}
