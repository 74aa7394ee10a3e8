import ArgumentParser
import Foundation
import MedicDetect
import MedicEngine
import MedicKnowledge
import MedicModel

// Option values parsed once, by argument-parser, into the types the libraries take: a value
// that does not parse is a usage error (exit 2) naming the option and the forms it accepts,
// before the command does anything, never a silent default.

/// An option's value type that can say what it accepts. Declared with
/// `transform: T.argument`, a value that does not parse is rendered by argument-parser as
/// "The value 'X' is invalid for '--option <name>': expected FORMS".
protocol DescribedArgument: ExpressibleByArgument {
    /// The accepted forms, for the error and for `--help`: "a duration such as 7d, 24h or 30m".
    static var acceptedForms: String { get }
}

/// Why an option's value was refused: the forms it accepts.
struct ArgumentFormError: Error, CustomStringConvertible {
    var acceptedForms: String
    var description: String { "expected \(acceptedForms)" }
}

extension DescribedArgument {
    /// The value of `text`, or an error that names the accepted forms.
    @Sendable static func argument(_ text: String) throws -> Self {
        guard let value = Self(argument: text) else { throw ArgumentFormError(acceptedForms: acceptedForms) }
        return value
    }
}

/// A duration as in the library's files: `15s`, `1m`, `500ms`, `1h30m`, `0`; never negative.
extension Interval: DescribedArgument {
    public init?(argument: String) {
        guard case .success(let interval) = Interval.parse(argument), interval.seconds.isFinite, interval.seconds >= 0 else {
            return nil
        }
        self = interval
    }

    public var defaultValueDescription: String { description }

    static var acceptedForms: String { "a duration such as 500ms, 15s, 5m, 1h30m, 24h or 7d" }
}

/// A duration longer than zero (a window to look back over).
struct PositiveInterval: DescribedArgument, Sendable {
    var interval: Interval

    init(_ interval: Interval) { self.interval = interval }

    init?(argument: String) {
        guard let interval = Interval(argument: argument), interval.seconds > 0 else { return nil }
        self.interval = interval
    }

    var defaultValueDescription: String { interval.description }

    static var acceptedForms: String { "a duration longer than 0, such as 30m, 24h, 7d or 30d" }
}

/// How far back to look: the whole history, or a duration before now.
enum Lookback: DescribedArgument, Sendable, Equatable {
    case all
    case last(Interval)

    init?(argument: String) {
        if argument == "all" {
            self = .all
        } else if let interval = Interval(argument: argument) {
            self = .last(interval)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String {
        switch self {
        case .all: "all"
        case .last(let interval): interval.description
        }
    }

    static var acceptedForms: String { "a duration such as 30m, 24h, 7d or 30d, or all" }

    /// The earliest start this lookback keeps, as the knowledge base compares it (RFC 3339, UTC,
    /// milliseconds); nil for the whole history.
    func start(before now: Date) -> String? {
        guard case .last(let interval) = self else { return nil }
        return ReportTime.format(now.timeIntervalSince1970 - interval.seconds)
    }
}

/// A size limit in bytes: a bare number of bytes, or a number and a unit; at least one byte.
struct FileSizeLimit: DescribedArgument, Sendable {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        guard case .success(let size) = ByteSize.parse(argument), size.bytes >= 1, size.bytes < Double(Int.max) else { return nil }
        bytes = Int(size.bytes)
    }

    var defaultValueDescription: String { bytes == 4 << 20 ? "4MiB" : "\(bytes)" }

    static var acceptedForms: String { "a size of at least 1 byte, such as 4194304, 512KiB, 4MiB or 10MB" }
}

/// An instant given as an RFC 3339 date-time, in seconds since 1970 (UTC).
struct DateTimeArgument: DescribedArgument, Sendable {
    var secondsSince1970: Double

    init?(argument: String) {
        guard let seconds = ReportTime.parse(argument) else { return nil }
        secondsSince1970 = seconds
    }

    static var acceptedForms: String { "an RFC 3339 date-time such as 2026-11-23T08:00:00Z or 2026-11-23T09:00:00+01:00" }
}

/// A feed's format by the names a person writes: jsonl (json, ndjson), csv, prometheus (prom).
extension SampleFormat: DescribedArgument {
    public init?(argument: String) { self.init(name: argument) }

    static var acceptedForms: String { "jsonl (or json, ndjson), csv or prometheus (or prom)" }
}

/// Where events are published, in the CLI spelling: `stdout`, `outbox:PATH` or `webhook:URL`.
extension BusTransport: DescribedArgument {
    public init?(argument: String) {
        guard let transport = try? BusTransport.parse(argument) else { return nil }
        self = transport
    }

    static var acceptedForms: String { "stdout, outbox:PATH or webhook:URL (an http or https URL)" }
}

/// `NAME=VALUE`, split at the first `=`: the name is not empty, the value may be (and may hold `=`).
struct NamedValue: DescribedArgument, Sendable {
    var name: String
    var value: String

    init?(argument: String) {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else { return nil }
        name = String(argument[..<eq])
        value = String(argument[argument.index(after: eq)...])
    }

    static var acceptedForms: String { "NAME=VALUE" }

    /// The pairs as a dictionary: a name given twice keeps its last value.
    static func dictionary(_ pairs: [NamedValue]) -> [String: String] {
        Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
