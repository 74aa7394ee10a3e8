import Foundation

/// The CSV side of `medic detect`: rows of a series (NAB's format: a header line, then
/// timestamp,value rows) in, `timestamp,value,anomaly_score` rows out, both streamed so that
/// memory stays bounded whatever the file's size.
public struct SeriesScoring {
    /// What stops the scoring: the file cannot be opened or read. `description` is the line to show.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Rows that could not be read are reported (the first 20 in full) and skipped.
    public static let reportedFailures = 20

    /// Receives the output, 64 KiB at a time; throws when it cannot take it (a closed pipe).
    public let write: ([UInt8]) throws -> Void
    /// Receives a line for each row that could not be read (`FILE:LINE: reason`), then a count
    /// of the rows past the first `reportedFailures`.
    public let report: (String) -> Void

    public init(write: @escaping ([UInt8]) throws -> Void, report: @escaping (String) -> Void) {
        self.write = write
        self.report = report
    }

    /// Scores every row of `csv` with `detector`, in file order; returns how many rows could
    /// not be read. Throws `Failure` when the file cannot be opened or read, or what `write` threw.
    public func score(csv: String, with detector: inout any StreamingDetector) throws -> Int {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: csv, isDirectory: &isDirectory), isDirectory.boolValue {
            throw Failure(description: "\(csv): is a directory, not a CSV file")
        }
        guard let handle = FileHandle(forReadingAtPath: csv) else {
            throw Failure(description: "\(csv): cannot open the file (does it exist, and is it readable?)")
        }
        defer { try? handle.close() }
        var lines = LineStream(handle: handle)
        var output: [UInt8] = []
        output.append(contentsOf: "timestamp,value,anomaly_score\n".utf8)
        var lineNumber = 0, failures = 0, sawFirstRow = false
        func fail(_ message: String) {
            failures += 1
            if failures <= Self.reportedFailures { report("\(csv):\(lineNumber): \(message)") }
        }
        while true {
            let line: LineStream.Line?
            do {
                line = try lines.next()
            } catch {
                throw Failure(description: "\(csv):\(lineNumber + 1): cannot read the file: \(error)")
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
            output.append(contentsOf: "\(fields[0]),\(fields[1]),\(score)\n".utf8)
            if output.count >= 1 << 16 {
                try write(output)
                output.removeAll(keepingCapacity: true)
            }
        }
        if !output.isEmpty { try write(output) }
        if failures > Self.reportedFailures {
            report("\(csv): \(failures - Self.reportedFailures) more rows could not be read")
        }
        return failures
    }
}
