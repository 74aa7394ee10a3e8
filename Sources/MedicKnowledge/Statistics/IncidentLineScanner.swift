import Foundation
import MedicText

/// A byte range of the line being scanned: a string's contents, between its quotes.
typealias ByteSpan = JSONStringSpan

extension JSONStringSpan {
    init() { self.init(start: 0, end: 0, escaped: false, ascii: true) }
}

/// What statistics read of one incident line, as small values and byte ranges of the line (no
/// `String`, no allocation: `steps` keeps its capacity from line to line).
struct IncidentFacts {
    struct Step {
        var step: Int
        var name: ByteSpan
        var succeeded: Bool
    }

    var timestamp = ByteSpan()
    var automated = false
    /// `mode` is `chaos`: the playbook's figures count it, the KPIs do not.
    var chaos = false
    var outcome = IncidentRecord.RunOutcome.succeeded
    /// `detection.method` is not `manual`.
    var detected = false
    var timeToDetect: Double?
    var timeToResolution: Double?
    var playbookID = ByteSpan()
    var executionTime = 0.0
    var steps: [Step] = []
    var escalated = false, approvalRequested = false, denied = false
}

/// One pass over an `incident-history.jsonl` line that checks it is an incident record exactly
/// as `IncidentRecord`'s decoding does (JSON syntax, every required field, every field's type,
/// every enum's spelling; unknown keys are skipped but still checked) and keeps only what
/// statistics need.
///
/// It accepts a subset of what the record parsers accept: a line with anything unusual (an
/// escaped key, a repeated known key, an integer written `1.0`, a lone `\u` surrogate, a `v`
/// other than 1, deep nesting) or not a record at all makes `scan` return false, and the caller reads
/// the line the strict way (`IncidentRecord(fastJSON:)`, then JSONDecoder), which decides and
/// reports it. So a line counts the same either way (`IncidentStatisticsEquivalenceTests`).
struct IncidentLineScanner {
    private var cursor: JSONCursor

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { cursor = JSONCursor(bytes) }

    /// Fills `facts` from `line` (one line without its newline); false when the line is left to
    /// the strict path (then `facts` is partly overwritten and meaningless).
    static func scan(_ line: UnsafeBufferPointer<UInt8>, into facts: inout IncidentFacts) -> Bool {
        var scanner = IncidentLineScanner(line)
        facts.steps.removeAll(keepingCapacity: true)
        guard scanner.record(&facts) else { return false }
        scanner.cursor.skipWhitespace()
        return scanner.cursor.atEnd
    }

    // MARK: - The record's shape

    private mutating func record(_ f: inout IncidentFacts) -> Bool {
        var seen: UInt32 = 0
        let complete = members(&seen) { s, key, seen in
            switch key.count {
            case 1 where s.named(key, "v"):
                return s.once(1 << 0, &seen) && s.integer() == IncidentRecord.version
            case 11 where s.named(key, "incident_id"):
                return s.once(1 << 1, &seen) && s.string() != nil
            case 9 where s.named(key, "timestamp"):
                guard s.once(1 << 2, &seen), let t = s.string() else { return false }
                f.timestamp = t
                return true
            case 8 where s.named(key, "ended_at"):
                return s.once(1 << 3, &seen) && s.string() != nil
            case 6 where s.named(key, "run_id"):
                return s.once(1 << 4, &seen) && s.string() != nil
            case 4 where s.named(key, "mode"):
                guard s.once(1 << 5, &seen), let mode = s.oneOf(Self.modes) else { return false }
                f.automated = mode == .automated
                f.chaos = mode == .chaos
                return true
            case 11 where s.named(key, "run_outcome"):
                guard s.once(1 << 6, &seen), let outcome = s.oneOf(Self.runOutcomes) else { return false }
                f.outcome = outcome
                return true
            case 9 where s.named(key, "detection"):
                return s.once(1 << 7, &seen) && s.detection(&f)
            case 14 where s.named(key, "classification"):
                return s.once(1 << 8, &seen) && s.classification()
            case 11 where s.named(key, "remediation"):
                return s.once(1 << 9, &seen) && s.remediation(&f)
            case 6 where s.named(key, "impact"):
                return s.once(1 << 10, &seen) && s.impact()
            case 10 where s.named(key, "resolution"):
                return s.once(1 << 11, &seen) && s.resolution(&f)
            case 8 where s.named(key, "metadata"):
                return s.once(1 << 12, &seen) && s.metadata(&f)
            default:
                return s.skipValue(depth: 1)
            }
        }
        return complete && seen == (1 << 13) - 1
    }

    private mutating func detection(_ f: inout IncidentFacts) -> Bool {
        var seen: UInt32 = 0
        f.timeToDetect = nil
        return members(&seen) { s, key, seen in
            if s.named(key, "method") {
                guard s.once(1, &seen), let method = s.oneOf(Self.methods) else { return false }
                f.detected = method != .manual
                return true
            }
            if s.named(key, "detection_time") { return s.once(2, &seen) && s.string() != nil }
            if s.named(key, "time_to_detect") { return s.once(4, &seen) && s.optionalNumber(&f.timeToDetect) }
            if s.named(key, "initial_severity") || s.named(key, "rule") { return s.optionalString() }
            return s.skipValue(depth: 2)
        } && seen & 3 == 3
    }

    private mutating func classification() -> Bool {
        var seen: UInt32 = 0
        return members(&seen) { s, key, seen in
            if s.named(key, "affected_components") { return s.once(1, &seen) && s.strings() }
            if s.named(key, "category") || s.named(key, "root_cause") || s.named(key, "blast_radius") { return s.optionalString() }
            return s.skipValue(depth: 2)
        } && seen == 1
    }

    private mutating func remediation(_ f: inout IncidentFacts) -> Bool {
        var seen: UInt32 = 0
        return members(&seen) { s, key, seen in
            if s.named(key, "playbook_id") {
                guard s.once(1, &seen), let id = s.string() else { return false }
                f.playbookID = id
                return true
            }
            if s.named(key, "playbook_version") { return s.once(2, &seen) && s.string() != nil }
            if s.named(key, "execution_time") {
                guard s.once(4, &seen), let time = s.number() else { return false }
                f.executionTime = time
                return true
            }
            if s.named(key, "steps_executed") { return s.once(8, &seen) && s.steps(&f.steps) }
            if s.named(key, "outcome") {
                guard s.once(16, &seen) else { return false }
                return s.null() || s.oneOf(Self.remediationOutcomes) != nil
            }
            return s.skipValue(depth: 2)
        } && seen & 15 == 15
    }

    private mutating func steps(_ steps: inout [IncidentFacts.Step]) -> Bool {
        elements { s in
            var seen: UInt32 = 0
            var step = IncidentFacts.Step(step: 0, name: ByteSpan(), succeeded: false)
            let complete = s.members(&seen) { s, key, seen in
                if s.named(key, "step") {
                    guard s.once(1, &seen), let n = s.integer() else { return false }
                    step.step = n
                    return true
                }
                if s.named(key, "name") {
                    guard s.once(2, &seen), let name = s.string() else { return false }
                    step.name = name
                    return true
                }
                if s.named(key, "succeeded") {
                    guard s.once(4, &seen), let ok = s.bool() else { return false }
                    step.succeeded = ok
                    return true
                }
                if s.named(key, "attempts") { return s.once(8, &seen) && s.integer() != nil }
                if s.named(key, "target") { return s.optionalString() }
                if s.named(key, "duration") {
                    var duration: Double?
                    return s.optionalNumber(&duration)
                }
                return s.skipValue(depth: 4)
            }
            guard complete, seen == 15 else { return false }
            steps.append(step)
            return true
        }
    }

    private mutating func impact() -> Bool {
        var seen: UInt32 = 0
        return members(&seen) { s, key, seen in
            if s.named(key, "services_affected") { return s.once(1, &seen) && s.strings() }
            if s.named(key, "duration") {
                var duration: Double?
                return s.optionalNumber(&duration)
            }
            if s.named(key, "users_affected") { return s.null() || s.integer() != nil }
            return s.skipValue(depth: 2)
        } && seen == 1
    }

    private mutating func resolution(_ f: inout IncidentFacts) -> Bool {
        var seen: UInt32 = 0
        f.timeToResolution = nil
        return members(&seen) { s, key, seen in
            if s.named(key, "resolution_method") {
                return s.once(1, &seen) && s.oneOf(Self.resolutionMethods) != nil
            }
            if s.named(key, "time_to_resolution") { return s.once(2, &seen) && s.optionalNumber(&f.timeToResolution) }
            if s.named(key, "verification_passed") { return s.once(4, &seen) && s.bool() != nil }
            return s.skipValue(depth: 2)
        } && seen & 5 == 5
    }

    private mutating func metadata(_ f: inout IncidentFacts) -> Bool {
        var seen: UInt32 = 0
        return members(&seen) { s, key, seen in
            if s.named(key, "escalated") {
                guard s.once(1, &seen), let value = s.bool() else { return false }
                f.escalated = value
                return true
            }
            if s.named(key, "approval_requested") {
                guard s.once(2, &seen), let value = s.bool() else { return false }
                f.approvalRequested = value
                return true
            }
            if s.named(key, "denied") {
                guard s.once(4, &seen), let value = s.bool() else { return false }
                f.denied = value
                return true
            }
            if s.named(key, "environment") || s.named(key, "host") { return s.optionalString() }
            return s.skipValue(depth: 2)
        } && seen == 7
    }

    // MARK: - JSON, strictly (RFC 8259)

    /// Marks `bit` in `seen`; false when it was already there (a repeated key: left to the strict path).
    @inline(__always)
    private func once(_ bit: UInt32, _ seen: inout UInt32) -> Bool {
        guard seen & bit == 0 else { return false }
        seen |= bit
        return true
    }

    @inline(__always)
    private func named(_ key: ByteSpan, _ name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount && memcmp(cursor.bytes.baseAddress! + key.start, name.utf8Start, key.count) == 0
    }

    @inline(__always)
    private mutating func take(_ c: UInt8) -> Bool {
        cursor.skipWhitespace()
        return cursor.take(c)
    }

    /// An object, `body` called at each member's value with its key (never escaped: such a key
    /// is left to the strict path) and `seen`.
    @inline(__always)
    private mutating func members(_ seen: inout UInt32,
                                  _ body: (inout IncidentLineScanner, ByteSpan, inout UInt32) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        if take(UInt8(ascii: "}")) { return true }
        while true {
            cursor.skipWhitespace()
            guard let key = string(), !key.escaped, take(UInt8(ascii: ":")) else { return false }
            cursor.skipWhitespace()
            guard body(&self, key, &seen) else { return false }
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            return cursor.take(UInt8(ascii: "}"))
        }
    }

    /// An array, `body` called at each element.
    @inline(__always)
    private mutating func elements(_ body: (inout IncidentLineScanner) -> Bool) -> Bool {
        guard take(UInt8(ascii: "[")) else { return false }
        if take(UInt8(ascii: "]")) { return true }
        while true {
            cursor.skipWhitespace()
            guard body(&self) else { return false }
            cursor.skipWhitespace()
            if cursor.take(UInt8(ascii: ",")) { continue }
            return cursor.take(UInt8(ascii: "]"))
        }
    }

    /// Any JSON value, checked and skipped (an unknown key's value), nested at most 32 levels
    /// counting from the record's.
    private mutating func skipValue(depth: Int) -> Bool {
        guard depth < 32 else { return false }
        do throws(JSONTextError) {
            try cursor.skipValue(depth: 32 - depth)
            return true
        } catch {
            return false
        }
    }

    /// A string: its contents' span, or nil when it is not valid JSON (a control character, an
    /// unknown escape, a lone `\u` surrogate, bytes that are not UTF-8).
    @inline(__always)
    private mutating func string() -> ByteSpan? {
        try? cursor.scanString()
    }

    private mutating func optionalString() -> Bool { null() || string() != nil }

    /// An array of strings.
    private mutating func strings() -> Bool { elements { s in s.string() != nil } }

    /// A string that is one of `spellings` (an escaped one is left to the strict path).
    private mutating func oneOf<Value>(_ spellings: [(bytes: [UInt8], value: Value)]) -> Value? {
        guard let span = string(), !span.escaped else { return nil }
        for spelling in spellings where spelling.bytes.count == span.count {
            let same = spelling.bytes.withUnsafeBufferPointer {
                memcmp($0.baseAddress!, cursor.bytes.baseAddress! + span.start, span.count) == 0
            }
            if same { return spelling.value }
        }
        return nil
    }

    /// The enums' raw values as bytes (a case added later, and missing here, goes the strict way).
    private static func spellings<Value: RawRepresentable>(_ values: [Value]) -> [(bytes: [UInt8], value: Value)]
        where Value.RawValue == String {
        values.map { (Array($0.rawValue.utf8), $0) }
    }

    private static let modes = spellings([IncidentRecord.Mode.manual, .automated, .chaos])
    private static let runOutcomes = spellings(IncidentRecord.RunOutcome.allCases)
    private static let methods = spellings([IncidentRecord.DetectionMethod.anomalyDetection, .healthCheck, .alert, .manual])
    private static let remediationOutcomes = spellings([IncidentRecord.RemediationOutcome.success, .partialSuccess, .failed])
    private static let resolutionMethods = spellings([IncidentRecord.ResolutionMethod.autoRemediation, .manual, .rollback])

    private mutating func null() -> Bool { cursor.take(literal: "null") }

    private mutating func bool() -> Bool? {
        if cursor.take(literal: "true") { return true }
        if cursor.take(literal: "false") { return false }
        return nil
    }

    /// `null`, or a number into `value`.
    private mutating func optionalNumber(_ value: inout Double?) -> Bool {
        if null() { value = nil; return true }
        guard let number = number() else { return false }
        value = number
        return true
    }

    /// A JSON number, as `Double(String)` reads it; a number too large for a Double is left to
    /// the strict path.
    @inline(__always)
    private mutating func number() -> Double? {
        guard let value = try? cursor.readNumber(), value.isFinite else { return nil }
        return value
    }

    /// A JSON integer without fraction or exponent, of at most 15 digits (what the record's
    /// `Int` fields hold); anything else is left to the strict path.
    private mutating func integer() -> Int? {
        guard let number = try? cursor.scanNumber(), !number.hasFractionOrExponent, number.digits <= 15 else { return nil }
        let value = Int(number.mantissa)
        return number.negative ? -value : value
    }
}
