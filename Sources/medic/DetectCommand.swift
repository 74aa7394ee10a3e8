import ArgumentParser
import Foundation
import MedicDetect
import MedicLoader
import MedicModel

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Score every sample of a CSV series with one anomaly detector.",
        discussion: """
            Reads a series as CSV (NAB's format: a header line, then timestamp,value rows), runs \
            one detector over it sample by sample, in file order, and writes \
            timestamp,value,anomaly_score to standard output: timestamp and value as given, the \
            score in [0, 1]. A score of 0.5 is the detector's limit: above it the sample is \
            anomalous. docs/detection.md explains each detector and its score.

            Timestamps: YYYY-MM-DD HH:MM:SS (UTC), RFC 3339 (2015-01-01T00:00:00Z) or epoch seconds. \
            A row older than the one before, a repeated timestamp, or a NaN or infinite value scores \
            0 and leaves the detector as it was.

            Detectors and their --param key=value (defaults as in a rules file):
              threshold       op (> >= < <= == !=) and value (85, 90%, 2s), required
              moving_average  window=100 k=3
              ewma            alpha=0.2 threshold=3 warmup=30
              iqr             window=100 multiplier=1.5
              rate_of_change  change (30%) and within (1m), required;
                              direction=both (or increase, decrease)
              seasonal        low=5 high=95 min_samples=4
              composite       components (required: a YAML list as in a rules
                              file), threshold=0.5, refractory (a duration
                              such as 8h: for that long after an anomaly,
                              scores not above its peak are halved; default
                              none)

            Exit status: 0 scored; 1 the file cannot be read, or rows could not be (each reported \
            as FILE:LINE: message on standard error, the other rows still scored); 2 usage (an \
            unknown detector, a bad --param).

            Examples:
              medic detect --detector ewma --csv machine_temperature.csv
              medic detect --detector threshold --param 'op=>' --param value=90 \\
                --csv cpu.csv
              medic detect --detector rate_of_change --param change=30% \\
                --param within=1m --param direction=increase --csv cpu.csv
              medic detect --detector composite --csv cpu.csv --param \\
                'components=[{detector: ewma, weight: 0.6}, {detector: iqr}]'
            """
    )

    @Option(help: "threshold, moving_average, ewma, iqr, rate_of_change, seasonal or composite.")
    var detector: String

    @Option(name: .customLong("param"), help: "A detector parameter as key=value (repeatable), e.g. --param window=60.")
    var params: [String] = []

    @Option(help: "The series: CSV with a header line and timestamp,value rows.")
    var csv: String

    func validate() throws {
        _ = try DetectorParameters.spec(detector: detector, params: params)
    }

    func run() throws {
        var detector = Detectors.make(try DetectorParameters.spec(detector: detector, params: params))
        let failures = try SeriesScoring.score(csv: csv, with: &detector)
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `--param key=value` pairs turned into a `DetectorSpec` by the loader itself, so that the CLI
/// has the rules file's defaults, ranges and messages: the pairs become a one-rule document.
enum DetectorParameters {
    static func spec(detector: String, params: [String]) throws -> DetectorSpec {
        var entries: [String] = []
        var keys: Set<String> = []
        for param in params {
            guard let equals = param.firstIndex(of: "=") else {
                throw ValidationError("--param '\(param)' is not key=value; for example --param window=60")
            }
            let key = String(param[..<equals]), value = String(param[param.index(after: equals)...])
            guard let first = key.first, first.isLetter || first == "_",
                  key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else { throw ValidationError("--param '\(param)': '\(key)' is not a parameter name (letters, digits and _)") }
            guard keys.insert(key).inserted else { throw ValidationError("--param \(key) is given twice") }
            guard !value.contains(where: \.isNewline) else { throw ValidationError("--param \(key): the value has a line break") }
            entries.append("\(key): \(yamlValue(value))")
        }
        var document = """
            rules:
              - name: medic-detect
                metric: series
                severity: info
                detector: \(quoted(detector))

            """
        if !entries.isEmpty { document += "    params: {\(entries.joined(separator: ", "))}\n" }
        let loaded = CatalogLoader(threads: 1).load(documents: [("--param", Array(document.utf8))])
        let errors = loaded.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let rule = loaded.catalog.rules.first else {
            let messages = errors.map { "\($0.message)\($0.hint.map { " (\($0))" } ?? "")" }
            throw ValidationError(messages.isEmpty ? "detector \(detector): the parameters cannot be read" : messages.joined(separator: "\n"))
        }
        return rule.detector
    }

    /// Numbers stay plain scalars (the loader wants `window: 60`, not `"60"`); a YAML flow list
    /// or mapping (composite `components`) is passed as written; anything else is quoted.
    private static func yamlValue(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("[") || trimmed.hasPrefix("{") { return trimmed }
        let numeric = !trimmed.isEmpty && trimmed.allSatisfy { "0123456789+-._eE".contains($0) } && trimmed.contains(where: \.isNumber)
        return numeric ? trimmed : quoted(value)
    }

    /// A YAML double-quoted scalar (JSON string syntax, which YAML reads the same way).
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The CSV side of `medic detect`: rows in, scored rows out, both streamed so that memory stays
/// bounded whatever the file's size.
enum SeriesScoring {
    /// Rows that could not be read are reported (the first 20 in full) and skipped.
    static let reportedFailures = 20

    /// Scores every row of `csv`; returns how many rows could not be read.
    static func score(csv: String, with detector: inout any StreamingDetector) throws -> Int {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: csv, isDirectory: &isDirectory), isDirectory.boolValue {
            printError("\(csv): is a directory, not a CSV file")
            throw ExitCode(1)
        }
        guard let handle = FileHandle(forReadingAtPath: csv) else {
            printError("\(csv): cannot open the file (does it exist, and is it readable?)")
            throw ExitCode(1)
        }
        defer { try? handle.close() }
        var lines = LineStream(handle: handle)
        var output = OutputBuffer()
        output.append("timestamp,value,anomaly_score\n")
        var lineNumber = 0, failures = 0, sawFirstRow = false
        func fail(_ message: String) {
            failures += 1
            if failures <= reportedFailures { printError("\(csv):\(lineNumber): \(message)") }
        }
        while true {
            let line: LineStream.Line?
            do {
                line = try lines.next()
            } catch {
                printError("\(csv):\(lineNumber + 1): cannot read the file: \(error)")
                throw ExitCode(1)
            }
            guard let line else { break }
            lineNumber += 1
            guard case .text(let text) = line else {
                fail(line.problem ?? "")
                continue
            }
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
            let time = SeriesTimestamp.parse(fields[0])
            // The first row is a header when it does not start with a time (NAB: timestamp,value).
            if !sawFirstRow {
                sawFirstRow = true
                if time == nil { continue }
            }
            guard fields.count == 2 else {
                fail("expected 2 fields, timestamp,value; found \(fields.count)")
                continue
            }
            guard let time else {
                fail("'\(fields[0].prefix(80))' is not a timestamp (YYYY-MM-DD HH:MM:SS, RFC 3339 or epoch seconds)")
                continue
            }
            guard let value = Double(fields[1].trimmingCharacters(in: .whitespaces)) else {
                fail("'\(fields[1].prefix(80))' is not a number")
                continue
            }
            let score = detector.observe(time: time, value: value).score
            output.append("\(fields[0]),\(fields[1]),\(score)\n")
            try output.flushIfFull()
        }
        try output.flush()
        if failures > reportedFailures {
            printError("\(csv): \(failures - reportedFailures) more rows could not be read")
        }
        return failures
    }
}

/// Lines of a file read 64 KiB at a time, without their line ending (LF or CRLF). A line longer
/// than `maxLine` bytes is returned as `.tooLong` and not kept.
struct LineStream {
    enum Line {
        case text(String)
        case tooLong
        /// Not UTF-8 at this byte offset: decoding it would alter a label or a value.
        case notUTF8(offset: Int)

        /// Why the line cannot be read (nil for text).
        var problem: String? {
            switch self {
            case .text: nil
            case .tooLong: "the line is longer than \(LineStream.maxLine) bytes"
            case .notUTF8(let offset): "the line is not valid UTF-8 (at byte \(offset + 1)); Medic reads samples unchanged or not at all"
            }
        }
    }

    static let maxLine = 1 << 20
    let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() throws -> Line? {
        var skipping = false
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0A) {
                let line = buffer[position..<newline]
                position = newline + 1
                return skipping ? .tooLong : Self.text(line)
            }
            if atEnd {
                guard position < buffer.count else { return skipping ? .tooLong : nil }
                let line = buffer[position...]
                position = buffer.count
                return skipping ? .tooLong : Self.text(line)
            }
            if buffer.count - position > Self.maxLine {
                skipping = true
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.removeSubrange(0..<position)
            }
            position = 0
            // read(2), not FileHandle.read(upToCount:), which waits for the whole count: a live
            // feed on a pipe (`tail -f ... | medic watch --input -`) must be read as it comes.
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                atEnd = true
            } else if errno != EINTR {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
    }

    private static func text(_ line: ArraySlice<UInt8>) -> Line {
        let bytes = line.last == 0x0D ? line.dropLast() : line
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return .text(String(decoding: bytes, as: UTF8.self))
            case .error: return .notUTF8(offset: offset)
            }
        }
    }
}

/// Standard output in 64 KiB writes; a write that fails (a closed pipe) throws.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func flushIfFull() throws {
        if bytes.count >= 1 << 16 { try flush() }
    }

    mutating func flush() throws {
        guard !bytes.isEmpty else { return }
        try StandardStream.output.write(bytes: bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
