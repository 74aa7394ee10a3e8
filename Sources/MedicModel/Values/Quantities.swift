/// A problem found while reading a value from text: what is wrong and at which
/// scalar offset inside the text (0-based), so a diagnostic can point at the column.
public struct ValueError: Error, Sendable, Equatable {
    public var message: String
    public var offset: Int
    public var hint: String?

    public init(_ message: String, offset: Int = 0, hint: String? = nil) {
        self.message = message
        self.offset = offset
        self.hint = hint
    }
}

/// A length of time, kept in seconds, with the text it was written as.
/// Spellings: `100ms`, `5s`, `2m`, `1h`, `7_days`, `5 minutes`, `1h30m`; a bare number is seconds.
public struct Interval: Sendable, Hashable, Codable, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public static func parse(_ text: String) -> Result<Interval, ValueError> {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else {
            return .failure(ValueError("empty duration", hint: "write a number and a unit, such as 5m or 30s"))
        }
        var scanner = UnitScanner(trimmed)
        var total = 0.0
        var parts = 0
        while !scanner.atEnd {
            let start = scanner.position
            if scanner.current == "-" {
                return .failure(ValueError("a duration cannot be negative", offset: start, hint: "write a length of time such as 5m"))
            }
            if scanner.current == "+" {
                return .failure(ValueError("a duration takes no sign", offset: start, hint: "write a length of time such as 5m"))
            }
            guard let number = scanner.number() else {
                return .failure(ValueError("expected a number in duration '\(trimmed)'", offset: start,
                                           hint: "write a number and a unit, such as 5m, 30s or 7_days"))
            }
            scanner.skip(where: { $0 == "_" || $0 == " " })
            let unitStart = scanner.position
            let unit = scanner.word()
            if unit.isEmpty {
                guard parts == 0, scanner.atEnd else {
                    return .failure(ValueError("missing unit in duration '\(trimmed)'", offset: unitStart,
                                               hint: "units: ms s m h d w (or seconds, minutes, hours, days, weeks)"))
                }
                total += number
                parts += 1
                break
            }
            guard let factor = Interval.unitSeconds[unit.lowercased()] else {
                let known = Array(Interval.unitSeconds.keys)
                let hint = Spelling.didYouMean(unit.lowercased(), among: known)
                    ?? "units: ms s m h d w (or seconds, minutes, hours, days, weeks)"
                return .failure(ValueError("unknown duration unit '\(unit)' in '\(trimmed)'", offset: unitStart, hint: hint))
            }
            total += number * factor
            parts += 1
            scanner.skip(where: { $0 == " " })
        }
        return .success(Interval(seconds: total))
    }

    static let unitSeconds: [String: Double] = [
        "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
        "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
        "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
        "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
        "d": 86400, "day": 86400, "days": 86400,
        "w": 604_800, "week": 604_800, "weeks": 604_800,
    ]

    /// A compact rendering: `300s` as `5m`, `0.1` as `100ms`.
    public var description: String {
        if seconds == 0 { return "0s" }
        if seconds < 1 { return "\(Self.trim(seconds * 1000))ms" }
        for (unit, size) in [("w", 604_800.0), ("d", 86400), ("h", 3600), ("m", 60)]
        where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Self.trim(seconds / size))\(unit)"
        }
        return "\(Self.trim(seconds))s"
    }

    public static func trim(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A percentage or a range of percentages (`5%`, `0.1%`, `5-10%`), in percent units.
public struct Percentage: Sendable, Hashable, Codable, CustomStringConvertible {
    public var low: Double
    /// The upper end of a range such as `5-10%`; nil for a single value.
    public var high: Double?

    public init(_ value: Double, upTo high: Double? = nil) {
        self.low = value
        self.high = high
    }

    public var value: Double { low }

    /// Parses `5%`, `0.1%`, `5-10%`, `5%-10%`; with `bareNumberAllowed`, a bare number is percent.
    public static func parse(_ text: String, bareNumberAllowed: Bool = false) -> Result<Percentage, ValueError> {
        let trimmed = text.trimmingSpaces
        var scanner = UnitScanner(trimmed)
        let hint = "write a percentage such as 5%, 0.1% or a range such as 5-10%"
        guard let low = scanner.number() else {
            return .failure(ValueError("'\(trimmed)' is not a percentage", offset: 0, hint: hint))
        }
        let lowHasSign = scanner.consume("%")
        scanner.skip(where: { $0 == " " })
        if scanner.atEnd {
            if lowHasSign || bareNumberAllowed { return .success(Percentage(low)) }
            return .failure(ValueError("missing '%' in '\(trimmed)'", offset: scanner.position, hint: hint))
        }
        guard scanner.consume("-") else {
            return .failure(ValueError("unexpected '\(scanner.rest)' in percentage '\(trimmed)'",
                                       offset: scanner.position, hint: hint))
        }
        scanner.skip(where: { $0 == " " })
        let highStart = scanner.position
        guard let high = scanner.number(), scanner.consume("%"), scanner.atEnd else {
            return .failure(ValueError("'\(trimmed)' is not a percentage range", offset: highStart, hint: hint))
        }
        guard high >= low else {
            return .failure(ValueError("range '\(trimmed)' ends below its start", offset: highStart, hint: hint))
        }
        return .success(Percentage(low, upTo: high))
    }

    public var description: String {
        if let high { return "\(Interval.trim(low))-\(Interval.trim(high))%" }
        return "\(Interval.trim(low))%"
    }
}

/// An amount of bytes: `100MB`, `1GB` (powers of 1000), `512KiB` (powers of 1024), `10B`.
public struct ByteSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var bytes: Double

    public init(bytes: Double) { self.bytes = bytes }

    public static func parse(_ text: String) -> Result<ByteSize, ValueError> {
        let trimmed = text.trimmingSpaces
        var scanner = UnitScanner(trimmed)
        let hint = "write a size such as 100MB, 1GB or 512KiB"
        guard let number = scanner.number() else {
            return .failure(ValueError("'\(trimmed)' is not a size", hint: hint))
        }
        scanner.skip(where: { $0 == " " || $0 == "_" })
        if scanner.atEnd { return .success(ByteSize(bytes: number)) }  // a bare number is bytes
        let unitStart = scanner.position
        let unit = scanner.word()
        guard scanner.atEnd, let factor = unitFactor[unit.lowercased()] else {
            let suggestion = Spelling.suggestion(for: unit.lowercased(), among: Array(unitFactor.keys))
            return .failure(ValueError("unknown size unit '\(unit)' in '\(trimmed)'", offset: unitStart,
                                       hint: suggestion.map { "did you mean '\($0.uppercased())'?" } ?? hint))
        }
        return .success(ByteSize(bytes: number * factor))
    }

    static let unitFactor: [String: Double] = [
        "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
    ]

    public var description: String {
        for (unit, size) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)] where bytes >= size {
            return "\(Interval.trim(bytes / size))\(unit)"
        }
        return "\(Interval.trim(bytes))B"
    }
}

/// A number that carries what it measures, as written after a value in a condition or bound.
public enum Quantity: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Double)
    case percentage(Double)
    case duration(Interval)
    case size(ByteSize)
    /// `2x`: a multiple of something else (a baseline).
    case multiplier(Double)

    /// The magnitude in base units: percent, seconds, bytes or the plain number.
    public var magnitude: Double {
        switch self {
        case .number(let v), .percentage(let v), .multiplier(let v): v
        case .duration(let d): d.seconds
        case .size(let s): s.bytes
        }
    }

    /// Parses a number with an optional unit: `85`, `0.1%`, `500ms`, `30_days`, `100MB`, `2x`.
    public static func parse(_ text: String) -> Result<Quantity, ValueError> {
        let trimmed = text.trimmingSpaces
        var scanner = UnitScanner(trimmed)
        guard let number = scanner.number() else {
            return .failure(ValueError("'\(trimmed)' is not a number", hint: "write a number, optionally with a unit: 85, 0.1%, 500ms, 100MB"))
        }
        if scanner.atEnd { return .success(.number(number)) }
        if scanner.consume("%") {
            return scanner.atEnd ? .success(.percentage(number))
                : .failure(ValueError("unexpected text after '%' in '\(trimmed)'", offset: scanner.position))
        }
        let afterNumber = scanner.position
        scanner.skip(where: { $0 == "_" || $0 == " " })
        let unit = scanner.word().lowercased()
        if unit == "x", scanner.atEnd { return .success(.multiplier(number)) }
        if ByteSize.unitFactor[unit] != nil, scanner.atEnd {
            return ByteSize.parse(trimmed).map { .size($0) }
        }
        if Interval.unitSeconds[unit] != nil {
            return Interval.parse(trimmed).map { .duration($0) }
        }
        let known = Array(Interval.unitSeconds.keys) + Array(ByteSize.unitFactor.keys) + ["x"]
        let hint = Spelling.didYouMean(unit, among: known)
            ?? "units: % ms s m h d w B KB MB GB KiB MiB GiB x"
        return .failure(ValueError("unknown unit '\(unit)' in '\(trimmed)'", offset: afterNumber, hint: hint))
    }

    var negated: Quantity {
        switch self {
        case .number(let v): .number(-v)
        case .percentage(let v): .percentage(-v)
        case .duration(let d): .duration(Interval(seconds: -d.seconds))
        case .size(let s): .size(ByteSize(bytes: -s.bytes))
        case .multiplier(let v): .multiplier(-v)
        }
    }

    public var description: String {
        switch self {
        case .number(let v): Interval.trim(v)
        case .percentage(let v): "\(Interval.trim(v))%"
        case .duration(let d): d.description
        case .size(let s): s.description
        case .multiplier(let v): "\(Interval.trim(v))x"
        }
    }
}

public enum ComparisonOperator: String, Sendable, Hashable, Codable, CaseIterable {
    case greater = ">"
    case greaterOrEqual = ">="
    case less = "<"
    case lessOrEqual = "<="
    case equal = "=="
    case notEqual = "!="

    public func holds(_ lhs: Double, _ rhs: Double) -> Bool {
        switch self {
        case .greater: lhs > rhs
        case .greaterOrEqual: lhs >= rhs
        case .less: lhs < rhs
        case .lessOrEqual: lhs <= rhs
        case .equal: lhs == rhs
        case .notEqual: lhs != rhs
        }
    }
}

/// A comparison with a value: `<90%`, `>100MB`, `> 30_days`.
public struct Bound: Sendable, Hashable, Codable, CustomStringConvertible {
    public var op: ComparisonOperator
    public var value: Quantity

    public init(_ op: ComparisonOperator, _ value: Quantity) {
        self.op = op
        self.value = value
    }

    public static func parse(_ text: String) -> Result<Bound, ValueError> {
        let trimmed = text.trimmingSpaces
        let ops: [ComparisonOperator] = [.greaterOrEqual, .lessOrEqual, .equal, .notEqual, .greater, .less]
        guard let op = ops.first(where: { trimmed.hasPrefix($0.rawValue) }) else {
            return .failure(ValueError("'\(trimmed)' does not start with a comparison",
                                       hint: "write a bound such as <90%, >100MB or > 30_days"))
        }
        let rest = String(trimmed.dropFirst(op.rawValue.count))
        let lead = rest.prefix(while: { $0 == " " }).count + op.rawValue.count
        switch Quantity.parse(rest) {
        case .success(let q): return .success(Bound(op, q))
        case .failure(var e):
            e.offset += lead
            return .failure(e)
        }
    }

    public var description: String { "\(op.rawValue)\(value)" }
}
