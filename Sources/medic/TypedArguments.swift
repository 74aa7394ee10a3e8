import ArgumentParser
import MedicDetect
import MedicModel

// Option values parsed once, by argument-parser, into the types the libraries take: a value
// that does not parse is a usage error (exit 2) naming the option, never a silent default.

/// A duration as in the library's files: `15s`, `1m`, `500ms`, `1h30m`, `0`; never negative.
extension Interval: ExpressibleByArgument {
    public init?(argument: String) {
        guard case .success(let interval) = Interval.parse(argument), interval.seconds.isFinite, interval.seconds >= 0 else {
            return nil
        }
        self = interval
    }

    public var defaultValueDescription: String { description }
}

/// A feed's format by the names a person writes: jsonl (json, ndjson), csv, prometheus (prom).
extension SampleFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
