import Foundation

/// A small JSON Schema (2020-12) checker for the output schemas under schemas/output/: the
/// keywords they use — type, required, properties, additionalProperties, items, enum, const,
/// minimum, anyOf, propertyNames, $ref to `#/$defs/...` — and nothing else (an unknown keyword is reported, so
/// a schema cannot silently ask for more than this checks). CI checks the same outputs with
/// Python's jsonschema too (.ci/check-output-schemas.py).
struct OutputSchemaChecker {
    static let known: Set<String> = [
        "$schema", "$id", "title", "description", "$defs", "type", "required", "properties", "additionalProperties",
        "items", "enum", "const", "minimum", "anyOf", "propertyNames", "$ref",
    ]

    let root: [String: Any]

    init(schema url: URL) throws {
        root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
    }

    /// Every way `value` breaks the schema, as "path: problem".
    func problems(_ value: Any) -> [String] { check(value, against: root, at: "$") }

    private func check(_ value: Any, against schema: [String: Any], at path: String) -> [String] {
        var out: [String] = []
        for key in schema.keys where !Self.known.contains(key) { out.append("\(path): the checker does not know '\(key)'") }
        if let reference = schema["$ref"] as? String {
            let name = reference.replacingOccurrences(of: "#/$defs/", with: "")
            guard let target = (root["$defs"] as? [String: Any])?[name] as? [String: Any] else { return out + ["\(path): no $defs \(name)"] }
            out += check(value, against: target, at: path)
        }
        if let options = schema["anyOf"] as? [[String: Any]], !options.contains(where: { check(value, against: $0, at: path).isEmpty }) {
            out.append("\(path): matches none of anyOf")
        }
        if let type = schema["type"] {
            let types = (type as? [String]) ?? [type as? String ?? ""]
            if !types.contains(where: { Self.value(value, is: $0) }) { return out + ["\(path): \(Self.describe(value)) is not \(types)"] }
        }
        if let choices = schema["enum"] as? [Any], !choices.contains(where: { Self.equal($0, value) }) {
            out.append("\(path): \(value) is not one of \(choices)")
        }
        if let constant = schema["const"], !Self.equal(constant, value) { out.append("\(path): \(value) is not \(constant)") }
        if let minimum = schema["minimum"] as? Double, let number = value as? NSNumber, number.doubleValue < minimum {
            out.append("\(path): \(number) < \(minimum)")
        }
        if let object = value as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { out.append("\(path): missing '\(key)'") }
            if let names = schema["propertyNames"] as? [String: Any] {
                for key in object.keys { out += check(key, against: names, at: "\(path) key '\(key)'") }
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, field) in object {
                if let sub = properties[key] as? [String: Any] {
                    out += check(field, against: sub, at: "\(path).\(key)")
                } else if let extra = schema["additionalProperties"] {
                    if let allowed = extra as? Bool, !allowed { out.append("\(path): unexpected key '\(key)'") }
                    if let sub = extra as? [String: Any] { out += check(field, against: sub, at: "\(path).\(key)") }
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (index, item) in array.enumerated() { out += check(item, against: items, at: "\(path)[\(index)]") }
        }
        return out
    }

    /// JSONSerialization gives a JSON boolean as Bool, or as an NSNumber of type "c" (char):
    /// a JSON integer is never read as a char.
    private static func isBool(_ value: Any) -> Bool {
        if type(of: value) == Bool.self { return true }
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    private static func value(_ value: Any, is type: String) -> Bool {
        switch type {
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        case "null": return value is NSNull
        case "boolean": return isBool(value)
        case "number": return value is NSNumber && !isBool(value)
        case "integer":
            guard let number = value as? NSNumber, !isBool(value) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        default: return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x == y }
        return false
    }

    private static func describe(_ value: Any) -> String {
        for type in ["object", "array", "string", "null", "boolean", "integer", "number"] where Self.value(value, is: type) { return type }
        return "\(value)"
    }
}
