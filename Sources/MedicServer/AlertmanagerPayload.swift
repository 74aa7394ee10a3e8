import Foundation
import MedicText

/// Alertmanager's webhook body, payload version 4, as Alertmanager documents it: every field is
/// read. Required are the fields Medic cannot act without (`version`, `groupKey`, `status`,
/// `receiver`, `alerts`, and each alert's `status`, `labels`, `startsAt`, `fingerprint`); the
/// others default to empty when absent. Any field present must have its documented type.
public struct AlertmanagerPayload: Sendable, Equatable, Decodable {
    public var version: String
    public var groupKey: String
    /// How many alerts Alertmanager left out of this post (`max_alerts`).
    public var truncatedAlerts: Int
    public var status: AlertStatus
    public var receiver: String
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    public var externalURL: String
    public var alerts: [Alert]

    public enum AlertStatus: String, Sendable, Equatable, Codable {
        case firing, resolved
    }

    public struct Alert: Sendable, Equatable, Decodable {
        public var status: AlertStatus
        public var labels: [String: String]
        public var annotations: [String: String]
        public var startsAt: Timestamp
        /// Nil when Alertmanager sends none or its zero time (`0001-01-01T00:00:00Z`, a firing alert).
        public var endsAt: Timestamp?
        public var generatorURL: String
        /// Alertmanager's hash of the labels: the alert's identity across posts.
        public var fingerprint: String

        enum CodingKeys: String, CodingKey {
            case status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decode(AlertStatus.self, forKey: .status)
            labels = try c.decode([String: String].self, forKey: .labels)
            annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
            startsAt = try Self.time(c, .startsAt)
            endsAt = nil
            if try c.decodeIfPresent(String.self, forKey: .endsAt) != nil {
                let end = try Self.time(c, .endsAt)
                // Alertmanager's zero time (year 1) for "no end".
                if end.seconds > 0 { endsAt = end }
            }
            generatorURL = try c.decodeIfPresent(String.self, forKey: .generatorURL) ?? ""
            fingerprint = try c.decode(String.self, forKey: .fingerprint)
            guard Self.isFingerprint(fingerprint) else {
                throw DecodingError.dataCorruptedError(forKey: .fingerprint, in: c,
                    debugDescription: "expected 1 to 128 letters, digits, '-' or '_' (Alertmanager's hex hash)")
            }
        }

        private static func time(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Timestamp {
            let text = try c.decode(String.self, forKey: key)
            guard let time = Timestamp(rfc3339: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "expected an RFC 3339 time, found '\(text.prefix(64))'")
            }
            return time
        }

        /// The fingerprint names a file of the incident store: no separators, no dots, bounded.
        static func isFingerprint(_ text: String) -> Bool {
            !text.isEmpty && text.utf8.count <= 128 && text.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL, alerts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        guard version == "4" else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: "expected \"4\", the payload version Medic reads")
        }
        groupKey = try c.decode(String.self, forKey: .groupKey)
        // Read as a decimal first: Foundation's decoder reports a number that does not fit an Int
        // as invalid JSON, naming no field.
        if let count = try c.decodeIfPresent(Decimal.self, forKey: .truncatedAlerts) {
            guard let whole = Int(count.description), whole >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .truncatedAlerts, in: c,
                                                       debugDescription: "expected a whole number from 0 to \(Int.max), found \(count)")
            }
            truncatedAlerts = whole
        } else {
            truncatedAlerts = 0
        }
        status = try c.decode(AlertStatus.self, forKey: .status)
        receiver = try c.decode(String.self, forKey: .receiver)
        groupLabels = try c.decodeIfPresent([String: String].self, forKey: .groupLabels) ?? [:]
        commonLabels = try c.decodeIfPresent([String: String].self, forKey: .commonLabels) ?? [:]
        commonAnnotations = try c.decodeIfPresent([String: String].self, forKey: .commonAnnotations) ?? [:]
        externalURL = try c.decodeIfPresent(String.self, forKey: .externalURL) ?? ""
        alerts = try c.decode([Alert].self, forKey: .alerts)
    }

    /// Why a body is not a version 4 payload: the field at fault (a path such as
    /// `alerts[0].fingerprint`; empty for the body as a whole) and what is wrong with it.
    public struct Rejection: Error, Sendable, Equatable {
        public var field: String
        public var message: String
    }

    /// The payload of `body`, or the rejection naming the field at fault.
    public static func decode(_ body: Data) throws(Rejection) -> AlertmanagerPayload {
        do {
            return try JSONDecoder().decode(AlertmanagerPayload.self, from: body)
        } catch let error as DecodingError {
            throw rejection(error)
        } catch {
            throw Rejection(field: "", message: "the body is not a JSON object: \(error)")
        }
    }

    static func rejection(_ error: DecodingError) -> Rejection {
        switch error {
        case .keyNotFound(let key, let context):
            return Rejection(field: path(context.codingPath + [key]), message: "is required and missing")
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return Rejection(field: "", message: "the body must be a JSON object")
        case .typeMismatch(let type, let context):
            return Rejection(field: path(context.codingPath), message: "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return Rejection(field: path(context.codingPath), message: "expected \(describe(type)), found null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return Rejection(field: "", message: "the body is not valid JSON")
            }
            var message = context.debugDescription
            if message.hasPrefix("Cannot initialize AlertStatus") { message = "expected \"firing\" or \"resolved\"" }
            return Rejection(field: path(context.codingPath), message: message)
        @unknown default:
            return Rejection(field: "", message: "\(error)")
        }
    }

    /// `alerts[0].labels.severity`: keys joined by dots, list positions in brackets.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is [String: String].Type: "an object of string values"
        case is [Alert].Type: "a list of alerts"
        case is [Any].Type: "a list"
        case is [String: Any].Type: "an object"
        default: "\(type)"
        }
    }
}
