import Foundation

/// A feed of samples read line by line (a file, or standard input as `-`): its format known from
/// the start (given, or from the file's extension) or, on standard input, from its first line.
/// A line that cannot be read is counted and skipped; the first `reportedFailures` of them are
/// reported as `NAME:LINE: reason` (and kept in `summary.errors`). What `medic backtest` and
/// `medic watch --input` read.
public struct SampleFeed {
    /// What stops a feed: it cannot be opened or read, or its CSV header cannot be read (no row
    /// of it could be). `description` is the line to show.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The source as shown in messages (`<stdin>` for `-`).
    public let name: String
    public let reportedFailures: Int
    private var lines: LineStream
    private let handle: FileHandle
    private var parser: (any SampleLineParser)?
    private let metric: String?
    private var lineNumber = 0
    private let report: (String) -> Void
    public private(set) var summary: BacktestReport.DataSummary

    /// Opens `source` (`-`: standard input). `metric`: the metric of a CSV without a metric
    /// column. `report` receives each line that could not be read, up to `reportedFailures`.
    public init(source: String, format: SampleFormat?, metric: String?, reportedFailures: Int,
                report: @escaping (String) -> Void) throws {
        name = source == "-" ? "<stdin>" : source
        summary = BacktestReport.DataSummary(source: name)
        self.metric = metric
        self.reportedFailures = reportedFailures
        self.report = report
        if source == "-" {
            handle = FileHandle.standardInput
        } else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue {
                throw Failure(description: "\(source): is a directory, not a data file")
            }
            guard let opened = FileHandle(forReadingAtPath: source) else {
                throw Failure(description: "\(source): cannot open the file (does it exist, and is it readable?)")
            }
            handle = opened
        }
        lines = LineStream(handle: handle)
        let known = format ?? (source == "-" ? nil : SampleFormat(path: source))
        parser = known?.parser(metric: metric)
    }

    /// The next sample, skipping lines that hold none or cannot be read; nil at the end.
    public mutating func next() throws -> Sample? {
        while true {
            let line: LineStream.Line?
            do {
                line = try lines.next()
            } catch {
                throw Failure(description: "\(name):\(lineNumber + 1): cannot read the data: \(error)")
            }
            guard let line else { return nil }
            lineNumber += 1
            summary.lines = lineNumber
            guard case .text(let text) = line else {
                fail(InputError(line: lineNumber, reason: line.problem ?? ""))
                continue
            }
            if parser == nil {
                guard !text.allSatisfy({ $0 == " " || $0 == "\t" }) else { continue }
                parser = SampleFormat(firstLine: text[...]).parser(metric: metric)
            }
            switch parser!.parse(line: text, number: lineNumber) {
            case .success(let sample?):
                summary.samples += 1
                return sample
            case .success(nil):
                continue
            case .failure(let error):
                // A CSV whose header cannot be read has no row that can be.
                if let csv = parser as? CSVSampleParser, csv.columns == nil {
                    let hint = error.reason.contains("no metric column") ? " (give --metric NAME)" : ""
                    throw Failure(description: "\(name):\(error.line): \(error.reason)\(hint)")
                }
                fail(error)
            }
        }
    }

    private mutating func fail(_ error: InputError) {
        summary.skipped += 1
        if summary.errors.count < reportedFailures {
            summary.errors.append(error)
            report("\(name):\(error.line): \(error.reason)")
        }
    }
}
