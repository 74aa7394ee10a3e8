/// One labelled NAB series: its rows and the anomaly windows over them.
public struct NABSeries: Sendable, Hashable {
    /// The data file's path relative to the corpus's `data/` folder, as NAB's labels name it:
    /// `realKnownCause/nyc_taxi.csv`.
    public var key: String
    /// Seconds since the epoch (UTC), one per row, in file order.
    public var timestamps: [Double]
    public var values: [Double]
    /// The anomaly windows as row index ranges (first and last row inside the window),
    /// ascending and disjoint.
    public var windows: [ClosedRange<Int>]

    public init(key: String, timestamps: [Double], values: [Double], windows: [ClosedRange<Int>]) {
        self.key = key
        self.timestamps = timestamps
        self.values = values
        self.windows = windows
    }

    /// A series whose windows are given as NAB labels them, by the times of their first and
    /// last rows. As in NAB, a window runs from the first row at or after its start to the
    /// first row after that at its end, or, when no row has exactly the end's time, to the last
    /// row before it. (Timestamps are taken in file order: NAB's files repeat a few and step
    /// back once.) Throws when a window holds no row or overlaps the one before it.
    public init(key: String, timestamps: [Double], values: [Double], windowTimes: [(start: Double, end: Double)]) throws {
        var windows: [ClosedRange<Int>] = []
        for limit in windowTimes.sorted(by: { $0.start < $1.start }) {
            let first = timestamps.firstIndex { $0 >= limit.start } ?? timestamps.count
            let atOrAfterEnd = timestamps[first...].firstIndex { $0 >= limit.end } ?? timestamps.count
            let last = atOrAfterEnd < timestamps.count && timestamps[atOrAfterEnd] == limit.end ? atOrAfterEnd : atOrAfterEnd - 1
            guard first <= last else { throw NABError.emptyWindow(file: key, start: limit.start, end: limit.end) }
            if let previous = windows.last, previous.upperBound >= first {
                throw NABError.overlappingWindows(file: key)
            }
            windows.append(first...last)
        }
        self.init(key: key, timestamps: timestamps, values: values, windows: windows)
    }
}

/// A set of labelled NAB series and the profiles to score them under: the published NAB
/// corpus, a subset of it, or series built in a test.
public struct NABCorpus: Sendable, Hashable {
    /// Sorted by key.
    public var series: [NABSeries]
    public var profiles: [NABProfile]

    public init(series: [NABSeries], profiles: [NABProfile] = NABProfile.published) {
        self.series = series.sorted { $0.key < $1.key }
        self.profiles = profiles
    }

    /// Windows over all series.
    public var windowCount: Int { series.reduce(0) { $0 + $1.windows.count } }
    public var rowCount: Int { series.reduce(0) { $0 + $1.timestamps.count } }
}

/// Problems with a NAB corpus or with a detector's outputs for it.
public enum NABError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformedRow(path: String, line: Int, reason: String)
    case malformedJSON(path: String, reason: String)
    case missingLabels(file: String)
    case emptyWindow(file: String, start: Double, end: Double)
    case overlappingWindows(file: String)
    case missingOutput(file: String)
    case outputLength(file: String, expected: Int, actual: Int)
    case invalidScore(file: String, row: Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .malformedRow(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .malformedJSON(let path, let reason): "\(path): \(reason)"
        case .missingLabels(let file): "\(file) has no entry in labels/combined_windows.json"
        case .emptyWindow(let file, let start, let end): "\(file): the window \(start)...\(end) (epoch seconds) holds no row"
        case .overlappingWindows(let file): "\(file): two anomaly windows overlap"
        case .missingOutput(let file): "no detector output for \(file)"
        case .outputLength(let file, let expected, let actual): "\(file): \(actual) scores for \(expected) rows"
        case .invalidScore(let file, let row): "\(file): the score of row \(row) is not a number"
        }
    }
}
