import Foundation

/// A byte range of the line being scanned: a string's contents, between its quotes.
struct ByteSpan {
    var start = 0, end = 0
    /// It holds a backslash escape: its text is not its bytes.
    var escaped = false
    var count: Int { end - start }
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
    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { b = bytes }

    /// Fills `facts` from `line` (one line without its newline); false when the line is left to
    /// the strict path (then `facts` is partly overwritten and meaningless).
    static func scan(_ line: UnsafeBufferPointer<UInt8>, into facts: inout IncidentFacts) -> Bool {
        var scanner = IncidentLineScanner(line)
        facts.steps.removeAll(keepingCapacity: true)
        guard scanner.record(&facts) else { return false }
        scanner.skipSpace()
        return scanner.i == line.count
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
        key.count == name.utf8CodeUnitCount && memcmp(b.baseAddress! + key.start, name.utf8Start, key.count) == 0
    }

    @inline(__always)
    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    @inline(__always)
    private mutating func take(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }

    /// An object, `body` called at each member's value with its key (never escaped: such a key
    /// is left to the strict path) and `seen`.
    @inline(__always)
    private mutating func members(_ seen: inout UInt32,
                                  _ body: (inout IncidentLineScanner, ByteSpan, inout UInt32) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        if take(UInt8(ascii: "}")) { return true }
        while true {
            skipSpace()
            guard let key = string(), !key.escaped, take(UInt8(ascii: ":")) else { return false }
            skipSpace()
            guard body(&self, key, &seen) else { return false }
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return true }
            return false
        }
    }

    /// An array, `body` called at each element.
    @inline(__always)
    private mutating func elements(_ body: (inout IncidentLineScanner) -> Bool) -> Bool {
        guard take(UInt8(ascii: "[")) else { return false }
        if take(UInt8(ascii: "]")) { return true }
        while true {
            skipSpace()
            guard body(&self) else { return false }
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return true }
            return false
        }
    }

    /// Any JSON value, checked and skipped (an unknown key's value).
    private mutating func skipValue(depth: Int) -> Bool {
        skipSpace()
        guard i < b.count, depth < 32 else { return false }
        switch b[i] {
        case UInt8(ascii: "{"):
            var seen: UInt32 = 0
            return members(&seen) { s, _, _ in s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): return elements { s in s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return bool() != nil
        case UInt8(ascii: "n"): return null()
        default: return number() != nil
        }
    }

    /// A string: its contents' span, or nil when it is not valid JSON (a control character, an
    /// unknown escape, a lone `\u` surrogate, bytes that are not UTF-8).
    private mutating func string() -> ByteSpan? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var span = ByteSpan(start: i, end: i, escaped: false)
        var ascii = true
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control character or
            // above ASCII (a word "has a zero byte" test on each; a hit anywhere in the word
            // stops the skip and the bytes are then looked at one by one).
            while i + 8 <= b.count {
                let word = UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)
                let quote = word ^ (0x22 &* ones), backslash = word ^ (0x5C &* ones)
                let hit = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- 0x20 &* ones) & ~word) | word
                if hit & highs != 0 { break }
                i += 8
            }
            guard i < b.count else { return nil }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                span.end = i
                i += 1
                // Bytes that are not UTF-8 are not JSON: left to the strict path, which refuses them.
                guard ascii || JSONTreeParser.isValidUTF8(UnsafeBufferPointer(rebasing: b[span.start..<span.end])) else { return nil }
                return span
            }
            if c == UInt8(ascii: "\\") {
                span.escaped = true
                guard i + 1 < b.count else { return nil }
                switch b[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard let scalar = hex4(at: i + 2) else { return nil }
                    i += 6
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"),
                              let low = hex4(at: i + 2), (0xDC00...0xDFFF).contains(low) else { return nil }
                        i += 6
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        return nil
                    }
                default:
                    return nil
                }
                continue
            }
            guard c >= 0x20 else { return nil }
            if c >= 0x80 { ascii = false }
            i += 1
        }
    }

    /// The four hex digits at `at`, or nil.
    private func hex4(at: Int) -> UInt32? {
        guard at + 4 <= b.count else { return nil }
        var value: UInt32 = 0
        for k in at..<(at + 4) {
            guard let digit = Self.hex(b[k]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    private static func hex(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        default: nil
        }
    }

    private mutating func optionalString() -> Bool { null() || string() != nil }

    /// An array of strings.
    private mutating func strings() -> Bool { elements { s in s.string() != nil } }

    /// A string that is one of `spellings` (an escaped one is left to the strict path).
    private mutating func oneOf<Value>(_ spellings: [(bytes: [UInt8], value: Value)]) -> Value? {
        guard let span = string(), !span.escaped else { return nil }
        for spelling in spellings where spelling.bytes.count == span.count {
            let same = spelling.bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, b.baseAddress! + span.start, span.count) == 0 }
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

    private mutating func null() -> Bool { literal("null") }

    private mutating func bool() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    @inline(__always)
    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= b.count, memcmp(b.baseAddress! + i, word.utf8Start, count) == 0 else { return false }
        i += count
        return true
    }

    /// `null`, or a number into `value`.
    private mutating func optionalNumber(_ value: inout Double?) -> Bool {
        if null() { value = nil; return true }
        guard let number = number() else { return false }
        value = number
        return true
    }

    private static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    /// A JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), read as `Double(String)`
    /// reads it (both are correctly rounded): exactly when its digits fit 2^53 and its decimal
    /// exponent is within ±22 (Clinger's fast path), else by `Double(String)` itself. A number
    /// too large for a Double is left to the strict path.
    private mutating func number() -> Double? {
        let start = i
        var negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var mantissa: UInt64 = 0, digits = 0, exponent = 0
        guard i < b.count, b[i] &- 0x30 < 10 else { return nil }
        if b[i] == 0x30 {
            i += 1
        } else {
            while i < b.count, b[i] &- 0x30 < 10 {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30) } else { exponent += 1 }
                digits += 1
                i += 1
            }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, b[i] &- 0x30 < 10 else { return nil }
            while i < b.count, b[i] &- 0x30 < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30)
                    exponent -= 1
                }
                if mantissa != 0 { digits += 1 }
                i += 1
            }
        }
        var exact = digits <= 19
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var negativeExponent = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { negativeExponent = b[i] == UInt8(ascii: "-"); i += 1 }
            guard i < b.count, b[i] &- 0x30 < 10 else { return nil }
            var e = 0
            while i < b.count, b[i] &- 0x30 < 10 {
                if e < 100_000 { e = e * 10 + Int(b[i] &- 0x30) } else { exact = false }
                i += 1
            }
            exponent += negativeExponent ? -e : e
        }
        if exact, mantissa <= 1 << 53, abs(exponent) <= 22 {
            let magnitude = exponent >= 0 ? Double(mantissa) * Self.powersOfTen[exponent] : Double(mantissa) / Self.powersOfTen[-exponent]
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// A JSON integer without fraction or exponent, of at most 15 digits (what the record's
    /// `Int` fields hold); anything else is left to the strict path.
    private mutating func integer() -> Int? {
        var negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < b.count, b[i] &- 0x30 < 10 else { return nil }
        var value = 0, digits = 0
        if b[i] == 0x30 {
            i += 1
        } else {
            while i < b.count, b[i] &- 0x30 < 10 {
                value = value &* 10 &+ Int(b[i] &- 0x30)
                digits += 1
                i += 1
            }
        }
        guard digits <= 15, i == b.count || (b[i] != UInt8(ascii: ".") && b[i] | 0x20 != UInt8(ascii: "e")) else { return nil }
        return negative ? -value : value
    }
}
