import Foundation

/// The JSON that Medic prints (`plan --json`, `run --json`, `runs --json`, `show --json`, the
/// plans in `watch --json`): pretty, sorted, snake_case, in the shapes of schemas/output/.
///
/// Values are encoded with their Codable conformances (the journal's spelling), then two of
/// Swift's internal spellings are replaced, so that no output shows them:
/// - a condition (`{"source", "expression"}`: the parsed tree) is printed as its text;
/// - an enum case's unlabeled payload (`{"percentage": {"_0": 10}}`) is printed as the value
///   itself (`{"percentage": 10}`), and several unlabeled values as an array.
public enum OutputJSON {
    public static func render(_ value: some Encodable, isoDates: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        if isoDates { encoder.dateEncodingStrategy = .iso8601 }
        let printer = JSONEncoder()
        printer.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value),
              let tree = try? JSONDecoder().decode(JSONTree.self, from: data),
              let shaped = try? printer.encode(tree.shaped) else { return "{}\n" }
        return String(decoding: shaped, as: UTF8.self) + "\n"
    }
}

/// Any JSON value, read back from the encoder's output and written again unchanged but for
/// `shaped`: numbers keep their kind (an integer stays an integer, a 64-bit seed stays exact).
indirect enum JSONTree: Codable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let value = try? single.decode(Bool.self) { self = .bool(value) }
        else if let value = try? single.decode(Int64.self) { self = .int(value) }
        else if let value = try? single.decode(UInt64.self) { self = .unsigned(value) }
        else if let value = try? single.decode(Double.self) { self = .double(value) }
        else if let value = try? single.decode(String.self) { self = .string(value) }
        else if let value = try? single.decode([JSONTree].self) { self = .array(value) }
        else { self = .object(try single.decode([String: JSONTree].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var single = encoder.singleValueContainer()
        switch self {
        case .null: try single.encodeNil()
        case .bool(let value): try single.encode(value)
        case .int(let value): try single.encode(value)
        case .unsigned(let value): try single.encode(value)
        case .double(let value): try single.encode(value)
        case .string(let value): try single.encode(value)
        case .array(let value): try single.encode(value)
        case .object(let value): try single.encode(value)
        }
    }

    /// The tree with conditions as their text and unlabeled payloads unwrapped (see `OutputJSON`).
    var shaped: JSONTree {
        switch self {
        case .array(let items):
            return .array(items.map(\.shaped))
        case .object(let fields):
            if fields.count == 2, case .string(let source)? = fields["source"], fields["expression"] != nil {
                return .string(source)
            }
            let positions = fields.keys.compactMap { key -> Int? in
                key.hasPrefix("_") ? Int(key.dropFirst()) : nil
            }
            if !fields.isEmpty, positions.count == fields.count, Set(positions) == Set(0..<fields.count) {
                return fields.count == 1 ? fields["_0"]!.shaped : .array((0..<fields.count).map { fields["_\($0)"]!.shaped })
            }
            return .object(fields.mapValues(\.shaped))
        default:
            return self
        }
    }
}
