import Foundation

/// A CloudEvents 1.0 event as the `bus` executor publishes it: JSON data (an object of string
/// values) and two extension attributes that tie the event to its run and step.
///
/// Encoded in structured mode (CloudEvents JSON format §3): one JSON object on one line, keys
/// sorted, `data` a nested object; `specversion` is always `1.0` and `datacontenttype`
/// `application/json`.
public struct CloudEvent: Sendable, Hashable, Codable {
    public static let specVersion = "1.0"
    public static let dataContentType = "application/json"

    /// Unique for its `source`; a UUID for published events.
    public var id: String
    /// A URI-reference naming the producer: `medic/runs/<run id>`.
    public var source: String
    /// What happened, reverse-DNS style: the action's `topic`.
    public var type: String
    /// When the event was made; encoded as RFC 3339 in UTC with milliseconds (`2027-01-15T08:00:00.250Z`).
    public var time: Date
    /// The step name.
    public var subject: String?
    /// The step's parameters.
    public var data: [String: String]
    /// Extension attribute `medicrun`: the run id.
    public var runID: String
    /// Extension attribute `medicstep`: the step number (a string on the wire, as every
    /// extension value Medic writes).
    public var stepNumber: Int

    public init(id: String, source: String, type: String, time: Date, subject: String? = nil,
                data: [String: String] = [:], runID: String, stepNumber: Int) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.data = data
        self.runID = runID
        self.stepNumber = stepNumber
    }

    // Extension names are lowercase a-z0-9 only (CloudEvents 1.0 §3.1.1), hence `medicrun`.
    private enum CodingKeys: String, CodingKey {
        case specversion, id, source, type, time, datacontenttype, subject, data, medicrun, medicstep
    }

    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decode(String.self, forKey: .specversion)
        guard version == Self.specVersion else {
            throw DecodingError.dataCorruptedError(forKey: .specversion, in: container,
                                                   debugDescription: "specversion \(version), expected \(Self.specVersion)")
        }
        id = try container.decode(String.self, forKey: .id)
        source = try container.decode(String.self, forKey: .source)
        type = try container.decode(String.self, forKey: .type)
        let timeText = try container.decode(String.self, forKey: .time)
        guard let time = try? Self.timeStyle.parse(timeText) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: container, debugDescription: "time '\(timeText)' is not RFC 3339")
        }
        self.time = time
        subject = try container.decodeIfPresent(String.self, forKey: .subject)
        data = try container.decodeIfPresent([String: String].self, forKey: .data) ?? [:]
        runID = try container.decode(String.self, forKey: .medicrun)
        let stepText = try container.decode(String.self, forKey: .medicstep)
        guard let stepNumber = Int(stepText) else {
            throw DecodingError.dataCorruptedError(forKey: .medicstep, in: container, debugDescription: "medicstep '\(stepText)' is not a number")
        }
        self.stepNumber = stepNumber
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.specVersion, forKey: .specversion)
        try container.encode(id, forKey: .id)
        try container.encode(source, forKey: .source)
        try container.encode(type, forKey: .type)
        try container.encode(time.formatted(Self.timeStyle), forKey: .time)
        try container.encode(Self.dataContentType, forKey: .datacontenttype)
        try container.encodeIfPresent(subject, forKey: .subject)
        try container.encode(data, forKey: .data)
        try container.encode(runID, forKey: .medicrun)
        try container.encode(String(stepNumber), forKey: .medicstep)
    }

    /// The structured-mode JSON: one line (line breaks inside values are escaped), sorted keys,
    /// UTF-8, no trailing newline.
    public func structuredJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads an event written by `structuredJSON()` (or any structured-mode event of this shape).
    public static func decode(structuredJSON data: Data) throws -> CloudEvent {
        try JSONDecoder().decode(CloudEvent.self, from: data)
    }
}
