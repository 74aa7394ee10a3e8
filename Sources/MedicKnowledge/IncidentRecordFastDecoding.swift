import Foundation
import MedicText

/// `incident-history.jsonl` read without JSONDecoder, which costs about 22 µs a record on Linux:
/// statistics over a million incidents must take seconds, not minutes. A small JSON parser
/// builds the line's tree; the record is read from it. Anything unexpected (a missing field, a
/// value of another type, a syntax error) returns nil and the caller decodes the line with
/// JSONDecoder, so a record reads the same either way (`IncidentRecordFastDecodingTests`).
extension IncidentRecord {
    init?(fastJSON line: ArraySlice<UInt8>) {
        let tree: JSONNode? = line.withUnsafeBufferPointer { buffer in
            var parser = JSONTreeParser(buffer)
            guard let value = parser.value(), parser.atEnd else { return nil }
            return value
        }
        guard case .object(let o)? = tree, let v = o["v"]?.int, v == Self.version,
              let incidentID = o["incident_id"]?.string, let timestamp = o["timestamp"]?.string,
              let endedAt = o["ended_at"]?.string, let runID = o["run_id"]?.string,
              let mode = o["mode"]?.string.flatMap(Mode.init(rawValue:)),
              let runOutcome = o["run_outcome"]?.string.flatMap(RunOutcome.init(rawValue:)),
              case .object(let d)? = o["detection"], case .object(let c)? = o["classification"],
              case .object(let r)? = o["remediation"], case .object(let i)? = o["impact"],
              case .object(let s)? = o["resolution"], case .object(let m)? = o["metadata"] else { return nil }
        guard let method = d["method"]?.string.flatMap(DetectionMethod.init(rawValue:)), let detectionTime = d["detection_time"]?.string,
              let timeToDetect = d.optionalDouble("time_to_detect"), let initialSeverity = d.optionalString("initial_severity"),
              let rule = d.optionalString("rule") else { return nil }
        guard let category = c.optionalString("category"), let rootCause = c.optionalString("root_cause"),
              let components = c["affected_components"]?.strings, let blastRadius = c.optionalString("blast_radius") else { return nil }
        guard let playbookID = r["playbook_id"]?.string, let playbookVersion = r["playbook_version"]?.string,
              let executionTime = r["execution_time"]?.double, case .array(let stepNodes)? = r["steps_executed"],
              let outcome = r.optionalString("outcome") else { return nil }
        var remediationOutcome: RemediationOutcome?
        if let outcome {
            guard let known = RemediationOutcome(rawValue: outcome) else { return nil }
            remediationOutcome = known
        }
        var steps: [StepExecuted] = []
        steps.reserveCapacity(stepNodes.count)
        for node in stepNodes {
            guard case .object(let e) = node, let step = e["step"]?.int, let name = e["name"]?.string,
                  let target = e.optionalString("target"), let succeeded = e["succeeded"]?.bool,
                  let attempts = e["attempts"]?.int, let duration = e.optionalDouble("duration") else { return nil }
            steps.append(StepExecuted(step: step, name: name, target: target, succeeded: succeeded, attempts: attempts,
                                      duration: duration))
        }
        guard let duration = i.optionalDouble("duration"), let services = i["services_affected"]?.strings,
              let users = i.optionalInt("users_affected") else { return nil }
        guard let resolutionMethod = s["resolution_method"]?.string.flatMap(ResolutionMethod.init(rawValue:)),
              let timeToResolution = s.optionalDouble("time_to_resolution"), let verified = s["verification_passed"]?.bool else { return nil }
        guard let escalated = m["escalated"]?.bool, let approvalRequested = m["approval_requested"]?.bool,
              let denied = m["denied"]?.bool, let environment = m.optionalString("environment"),
              let host = m.optionalString("host") else { return nil }
        self.init(
            incidentID: incidentID, timestamp: timestamp, endedAt: endedAt, runID: runID, mode: mode, runOutcome: runOutcome,
            detection: Detection(method: method, detectionTime: detectionTime, timeToDetect: timeToDetect,
                                 initialSeverity: initialSeverity, rule: rule),
            classification: Classification(category: category, rootCause: rootCause, affectedComponents: components,
                                           blastRadius: blastRadius),
            remediation: Remediation(playbookID: playbookID, playbookVersion: playbookVersion, executionTime: executionTime,
                                     stepsExecuted: steps, outcome: remediationOutcome),
            impact: Impact(duration: duration, servicesAffected: services, usersAffected: users),
            resolution: Resolution(resolutionMethod: resolutionMethod, timeToResolution: timeToResolution, verificationPassed: verified),
            metadata: Metadata(escalated: escalated, approvalRequested: approvalRequested, denied: denied, environment: environment,
                               host: host))
    }
}

/// A parsed JSON value.
enum JSONNode {
    case object(JSONObject)
    case array([JSONNode])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var double: Double? { if case .number(let n) = self { n } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var int: Int? {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 9.0e15 else { return nil }
        return Int(n)
    }
    var strings: [String]? {
        guard case .array(let items) = self else { return nil }
        var result: [String] = []
        for item in items {
            guard let s = item.string else { return nil }
            result.append(s)
        }
        return result
    }
}

/// An object's members in file order, found by a linear search: a record's objects have a
/// handful of keys, and hashing every key cost more than the parse itself.
struct JSONObject {
    var members: [(key: String, value: JSONNode)] = []

    subscript(_ key: String) -> JSONNode? {
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// `.some(nil)` for an absent key or null, `.some(value)` for a value of the type, nil (the
    /// record is not what the fast path knows) for a value of another type.
    func optionalString(_ key: String) -> String?? {
        guard let node = self[key] else { return .some(nil) }
        if case .null = node { return .some(nil) }
        return node.string.map { .some($0) }
    }

    func optionalDouble(_ key: String) -> Double?? {
        guard let node = self[key] else { return .some(nil) }
        if case .null = node { return .some(nil) }
        return node.double.map { .some($0) }
    }

    func optionalInt(_ key: String) -> Int?? {
        guard let node = self[key] else { return .some(nil) }
        if case .null = node { return .some(nil) }
        return node.int.map { .some($0) }
    }
}

/// RFC 8259 JSON from UTF-8 bytes, read with `JSONCursor`; nil at the first thing it does not
/// accept.
struct JSONTreeParser {
    private var cursor: JSONCursor
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { cursor = JSONCursor(bytes) }

    var atEnd: Bool {
        mutating get {
            cursor.skipWhitespace()
            return cursor.atEnd
        }
    }

    mutating func value() -> JSONNode? {
        do throws(JSONTextError) {
            return try node()
        } catch {
            return nil
        }
    }

    private mutating func node() throws(JSONTextError) -> JSONNode? {
        cursor.skipWhitespace()
        guard let byte = cursor.peek, depth < 64 else { return nil }
        switch byte {
        case UInt8(ascii: "{"):
            depth += 1
            defer { depth -= 1 }
            cursor.offset += 1
            var members = JSONObject()
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: "}")) { return .object(members) }
            while true {
                cursor.skipWhitespace()
                let key = try cursor.readString()
                cursor.skipWhitespace()
                try cursor.expect(UInt8(ascii: ":"))
                guard let item = try node() else { return nil }
                // A repeated key: which one counts differs between JSONDecoders (the first on
                // Linux, the last on older Darwin Foundation), so the line is left to JSONDecoder.
                if members.members.contains(where: { $0.key == key }) { return nil }
                members.members.append((key, item))
                cursor.skipWhitespace()
                if cursor.take(UInt8(ascii: ",")) { continue }
                try cursor.expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            depth += 1
            defer { depth -= 1 }
            cursor.offset += 1
            var items: [JSONNode] = []
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: "]")) { return .array(items) }
            while true {
                guard let item = try node() else { return nil }
                items.append(item)
                cursor.skipWhitespace()
                if cursor.take(UInt8(ascii: ",")) { continue }
                try cursor.expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try cursor.readString())
        case UInt8(ascii: "t"): return cursor.take(literal: "true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return cursor.take(literal: "false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return cursor.take(literal: "null") ? .null : nil
        default:
            let number = try cursor.readNumber()
            return number.isFinite ? .number(number) : nil
        }
    }
}
