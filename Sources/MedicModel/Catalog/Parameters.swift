/// The type of a parameter value.
public enum ParameterType: String, Sendable, Hashable, Codable, CaseIterable {
    case string, integer, number, boolean, duration, percentage, size, list
}

/// A parameter value as given in a file, already checked against the parameter's type.
public indirect enum ParameterValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    case duration(Interval)
    case percentage(Percentage)
    case size(ByteSize)
    case list([ParameterValue])

    /// How the value reaches a shell step as an environment variable: durations in whole
    /// seconds, sizes in bytes, percentages as the number, lists joined by one space.
    public var environmentValue: String {
        switch self {
        case .string(let s): s
        case .integer(let i): String(i)
        case .number(let d): Interval.trim(d)
        case .boolean(let b): b ? "true" : "false"
        case .duration(let d): Interval.trim(d.seconds.rounded(.up))
        case .percentage(let p): Interval.trim(p.low)
        case .size(let s): Interval.trim(s.bytes)
        case .list(let items): items.map(\.environmentValue).joined(separator: " ")
        }
    }

    public var description: String {
        switch self {
        case .string(let s): s
        case .duration(let d): d.description
        case .percentage(let p): p.description
        case .size(let s): s.description
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        default: environmentValue
        }
    }
}

/// A declared parameter of an action or a playbook.
public struct ParameterSpec: Sendable, Hashable, Codable {
    public var name: String
    public var type: ParameterType?
    public var required: Bool
    public var defaultValue: ParameterValue?
    /// Allowed values (written as text), when the parameter is an enum.
    public var allowedValues: [String]?
    public var description: String?

    public init(name: String, type: ParameterType? = nil, required: Bool = false,
                defaultValue: ParameterValue? = nil, allowedValues: [String]? = nil, description: String? = nil) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.allowedValues = allowedValues
        self.description = description
    }
}
