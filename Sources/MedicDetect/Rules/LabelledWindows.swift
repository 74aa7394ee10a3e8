import Foundation

/// Labelled anomaly windows in NAB's format (its `labels/combined_windows.json`): a JSON object
/// whose keys name series and whose values list the windows as `["start", "end"]` timestamps
/// (`YYYY-MM-DD HH:MM:SS[.ffffff]` UTC, RFC 3339 or epoch seconds, as text). An empty list says
/// the series has no anomaly: every firing on it is a false positive.
///
/// A key names, the most specific first (the first that applies to a series wins):
/// - one series, as `medic backtest` prints it: `disk_usage_percent{host="a",path="/var"}`
///   (a series without labels is its metric's name);
/// - a metric: each of its series;
/// - the data file: each series in it, when the file's path is the key or ends with `/` and the
///   key (NAB's `realKnownCause/nyc_taxi.csv` names `.../data/realKnownCause/nyc_taxi.csv`;
///   `nyc_taxi.csv` names it too); the longest such key wins.
public struct LabelledWindows: Sendable, Hashable {
    public struct Window: Sendable, Hashable {
        /// Epoch seconds, as labelled; `start <= end`.
        public var start: Double
        public var end: Double
    }

    /// Why a labels file cannot be used: the file and what is wrong in it.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The labels file's path, as given.
    public var file: String
    /// Key → its windows, sorted by start and disjoint.
    public var windows: [String: [Window]]

    public init(file: String, windows: [String: [Window]]) {
        self.file = file
        self.windows = windows
    }

    /// Reads and checks a labels file; nothing is replayed against a file that fails.
    public static func load(_ path: String) throws(Failure) -> LabelledWindows {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Failure(description: "\(path): cannot be read: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    /// The labels in `data` (a file's bytes), checked: an object of key → list of
    /// `[start, end]` timestamps, each window starting no later than it ends, no two windows of
    /// a key overlapping.
    public static func parse(_ data: Data, file: String) throws(Failure) -> LabelledWindows {
        func fail(_ what: String) -> Failure { Failure(description: "\(file): \(what)") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw fail("not JSON (\(error.localizedDescription)); expected NAB's labels format, {\"series\": [[\"start\", \"end\"], ...]}")
        }
        guard let entries = object as? [String: Any] else {
            throw fail("expected an object of series (or data file) → list of [\"start\", \"end\"] windows, as NAB's combined_windows.json")
        }
        guard !entries.isEmpty else { throw fail("names no series; expected {\"series\": [[\"start\", \"end\"], ...]}") }
        var windows: [String: [Window]] = [:]
        for (key, value) in entries {
            guard let list = value as? [Any] else {
                throw fail("\"\(key)\": expected a list of [\"start\", \"end\"] windows")
            }
            var parsed: [Window] = []
            for (index, item) in list.enumerated() {
                let what = "\"\(key)\": window \(index + 1)"
                guard let pair = item as? [Any], pair.count == 2, let start = pair[0] as? String, let end = pair[1] as? String else {
                    throw fail("\(what) is not two timestamps as text, [\"start\", \"end\"]")
                }
                guard let from = SeriesTimestamp.parse(start) else { throw fail("\(what): '\(start)' is not a timestamp (\(Self.forms))") }
                guard let to = SeriesTimestamp.parse(end) else { throw fail("\(what): '\(end)' is not a timestamp (\(Self.forms))") }
                guard from <= to else { throw fail("\(what) ends (\(end)) before it starts (\(start))") }
                parsed.append(Window(start: from, end: to))
            }
            parsed.sort { $0.start < $1.start }
            for (previous, next) in zip(parsed, parsed.dropFirst()) where next.start <= previous.end {
                throw fail("\"\(key)\": the windows from \(TimestampText.rfc3339(previous.start)) and from \(TimestampText.rfc3339(next.start)) overlap")
            }
            windows[key] = parsed
        }
        return LabelledWindows(file: file, windows: windows)
    }

    static let forms = "YYYY-MM-DD HH:MM:SS UTC, RFC 3339 or epoch seconds"

    /// The key naming the data file at `path` (nil for standard input or when none does).
    public func fileKey(dataPath path: String) -> String? {
        guard path != "-" else { return nil }
        let candidates = [path, URL(fileURLWithPath: path).standardizedFileURL.path]
        return windows.keys.filter { key in
            candidates.contains { $0 == key || $0.hasSuffix("/" + key) }
        }.max { $0.count < $1.count || ($0.count == $1.count && $0 > $1) }
    }

    /// The key whose windows a series has: its series key, else its metric, else `fileKey`.
    public func key(series: String, metric: String, fileKey: String?) -> String? {
        if windows[series] != nil { return series }
        if windows[metric] != nil { return metric }
        return fileKey
    }
}
