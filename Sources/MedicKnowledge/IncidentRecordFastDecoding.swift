import Foundation

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

/// RFC 8259 JSON from UTF-8 bytes; nil at the first thing it does not accept.
struct JSONTreeParser {
    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { b = bytes }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return i == b.count
        }
    }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    mutating func value() -> JSONNode? {
        skipSpace()
        guard i < b.count, depth < 64 else { return nil }
        switch b[i] {
        case UInt8(ascii: "{"):
            depth += 1
            defer { depth -= 1 }
            i += 1
            var members = JSONObject()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let item = value() else { return nil }
                // A repeated key: which one counts differs between JSONDecoders (the first on
                // Linux, the last on older Darwin Foundation), so the line is left to JSONDecoder.
                if members.members.contains(where: { $0.key == key }) { return nil }
                members.members.append((key, item))
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                return nil
            }
        case UInt8(ascii: "["):
            depth += 1
            defer { depth -= 1 }
            i += 1
            var items: [JSONNode] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                guard let item = value() else { return nil }
                items.append(item)
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                return nil
            }
        case UInt8(ascii: "\""):
            return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return number()
        }
    }

    private mutating func literal(_ word: StaticString, _ node: JSONNode) -> JSONNode? {
        let count = word.utf8CodeUnitCount
        guard i + count <= b.count else { return nil }
        for k in 0..<count where b[i + k] != word.utf8Start[k] { return nil }
        i += count
        return node
    }

    /// RFC 8259's number, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, and nothing looser
    /// (`+1`, `01`, `.5`, `1.` are not JSON, and JSONDecoder refuses them).
    private mutating func number() -> JSONNode? {
        let start = i
        func digits() -> Bool {
            let first = i
            while i < b.count, b[i] &- 0x30 < 10 { i += 1 }
            return i > first
        }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        if i < b.count, b[i] == 0x30 { i += 1 } else { guard digits() else { return nil } }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() else { return nil }
        }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() else { return nil }
        }
        guard let value = Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)),
              value.isFinite else { return nil }
        return .number(value)
    }

    private mutating func string() -> String? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        var escaped = false, ascii = true
        while i < b.count, b[i] != UInt8(ascii: "\"") {
            if b[i] == UInt8(ascii: "\\") { escaped = true; i += 1 }
            else if b[i] < 0x20 { return nil }
            else if b[i] >= 0x80 { ascii = false }
            i += 1
        }
        guard i < b.count else { return nil }
        let raw = UnsafeBufferPointer(rebasing: b[start..<i])
        i += 1
        // Bytes that are not UTF-8: not JSON (JSONDecoder refuses them), never "repaired".
        guard ascii || Self.isValidUTF8(raw) else { return nil }
        guard escaped else { return String(decoding: raw, as: UTF8.self) }
        return Self.unescape(raw)
    }

    /// Whether `bytes` are well-formed UTF-8 (Unicode 15 table 3-7: no overlong form, no
    /// surrogate, nothing above U+10FFFF, no cut sequence).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var k = 0
        while k < bytes.count {
            let lead = bytes[k]
            if lead < 0x80 { k += 1; continue }
            let length: Int, low: UInt8, high: UInt8
            switch lead {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return false
            }
            guard k + length <= bytes.count, (low...high).contains(bytes[k + 1]) else { return false }
            for c in 2..<length where bytes[k + c] & 0xC0 != 0x80 { return false }
            k += length
        }
        return true
    }

    /// A JSON string's contents (between its quotes) with its escapes undone; nil for a bad escape.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var k = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var value: UInt32 = 0
            for c in raw[at..<(at + 4)] {
                let digit: UInt32
                switch c {
                case 0x30...0x39: digit = UInt32(c - 0x30)
                case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                default: return nil
                }
                value = value * 16 + digit
            }
            return value
        }
        while k < raw.count {
            let c = raw[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            guard k + 1 < raw.count else { return nil }
            switch raw[k + 1] {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(k + 2) else { return nil }
                k += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard k + 3 < raw.count, raw[k + 2] == UInt8(ascii: "\\"), raw[k + 3] == UInt8(ascii: "u"),
                          let low = hex4(k + 4), (0xDC00...0xDFFF).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    k += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default: return nil
            }
            k += 2
        }
        return String(decoding: out, as: UTF8.self)
    }
}
