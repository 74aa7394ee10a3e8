import Foundation
import Logging

/// Medic's diagnostics and progress lines that are not a command's output (warnings, notes,
/// failures, what a long command is doing) go through swift-log to standard error; what a
/// command prints as its result (tables, `--json`) stays on standard output, untouched.
///
/// The global options `--log-level LEVEL` (trace, debug, info, notice, warning, error,
/// critical; default info, which shows every warning and note Medic has always shown) and
/// `--log-format human|json` (default human; `MEDIC_LOG_FORMAT` and `MEDIC_LOG_LEVEL` set the
/// defaults) are taken out of the arguments before the command's own, anywhere before `--`.
enum MedicLog {
    enum Format: String, CaseIterable {
        /// Each message as it has always read (`medic: warning: ...`), then its metadata as
        /// `key=value`.
        case human
        /// One JSON object per line: timestamp, level, label, message, metadata.
        case json
    }

    /// The logger of the `medic` CLI.
    static let log = Logger(label: "medic")

    static let levelOption = "--log-level"
    static let formatOption = "--log-format"

    /// The arguments without the logging options; installs the handler they describe. A bad
    /// value is a usage error naming the option.
    static func bootstrap(_ arguments: [String], environment: [String: String]) throws -> [String] {
        var level = Logger.Level.info
        var format = Format.human
        if let given = environment["MEDIC_LOG_LEVEL"], !given.isEmpty {
            guard let parsed = Logger.Level(rawValue: given.lowercased()) else { throw usage("MEDIC_LOG_LEVEL", given, levels) }
            level = parsed
        }
        if let given = environment["MEDIC_LOG_FORMAT"], !given.isEmpty {
            guard let parsed = Format(rawValue: given.lowercased()) else { throw usage("MEDIC_LOG_FORMAT", given, formats) }
            format = parsed
        }
        var remaining: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                remaining += arguments[index...]
                break
            }
            let option = [levelOption, formatOption].first { argument == $0 || argument.hasPrefix($0 + "=") }
            guard let option else {
                remaining.append(argument)
                index += 1
                continue
            }
            let value: String
            if argument == option {
                guard index + 1 < arguments.count else {
                    throw CommandFailure.usage("Missing value for '\(option) <\(option == levelOption ? "level" : "format")>'")
                }
                value = arguments[index + 1]
                index += 2
            } else {
                value = String(argument.dropFirst(option.count + 1))
                index += 1
            }
            if option == levelOption {
                guard let parsed = Logger.Level(rawValue: value.lowercased()) else { throw usage(option, value, levels) }
                level = parsed
            } else {
                guard let parsed = Format(rawValue: value.lowercased()) else { throw usage(option, value, formats) }
                format = parsed
            }
        }
        let (chosenLevel, chosenFormat) = (level, format)
        LoggingSystem.bootstrap { label in
            var handler = StandardErrorLogHandler(label: label, format: chosenFormat)
            handler.logLevel = chosenLevel
            return handler
        }
        return remaining
    }

    private static let levels = Logger.Level.allCases.map(\.rawValue)
    private static let formats = Format.allCases.map(\.rawValue)

    private static func usage(_ option: String, _ value: String, _ allowed: [String]) -> CommandFailure {
        .usage("The value '\(value)' is invalid for '\(option)': use \(allowed.joined(separator: ", "))")
    }
}

/// Writes log events to standard error, whole lines through its one writer.
struct StandardErrorLogHandler: LogHandler {
    let label: String
    let format: MedicLog.Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let given = event.metadata { all.merge(given) { $1 } }
        switch format {
        case .human:
            let pairs = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            StandardStream.error.line(([event.message.description] + pairs).joined(separator: " "))
        case .json:
            StandardStream.error.line(Self.json(event, label: label, metadata: all))
        }
    }

    /// `{"label":…,"level":…,"message":…,"metadata":{…},"timestamp":…}` on one line.
    /// The timestamp is the wall clock's when the line is written, not a command's clock: a log
    /// line says when it was emitted, and a reader lines it up with other programs' logs.
    static func json(_ event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        let object: [String: Any] = [
            "timestamp": Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            "level": event.level.rawValue, "label": label, "message": event.message.description,
            "metadata": metadata.mapValues(Self.plain),
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{\"level\":\"\(event.level.rawValue)\",\"message\":\"(not encodable)\"}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .array(let values): values.map(plain)
        case .dictionary(let values): values.mapValues(plain)
        }
    }
}
