import Foundation

extension NABCorpus {
    /// Loads a corpus laid out as NAB lays it out: `data/<corpus>/<name>.csv` (header
    /// `timestamp,value`), `labels/combined_windows.json` (file -> list of `[start, end]`
    /// timestamps) and `profiles.json` (NAB's cost matrices; the published three when the file
    /// is absent). Windows for files that are not under `data/` are ignored, so the full NAB
    /// labels can score a subset; a data file without labels is an error.
    public static func load(from directory: URL) throws -> NABCorpus {
        let windowsURL = directory.appendingPathComponent("labels/combined_windows.json")
        let labels = try loadWindows(windowsURL)
        var series: [NABSeries] = []
        for key in try dataFileKeys(directory.appendingPathComponent("data")) {
            guard let windowTimes = labels[key] else { throw NABError.missingLabels(file: key) }
            let table = try NABTable.read(directory.appendingPathComponent("data").appendingPathComponent(key), columns: 2)
            series.append(try NABSeries(key: key, timestamps: table.timestamps, values: table.columns[0], windowTimes: windowTimes))
        }
        let profilesURL = directory.appendingPathComponent("profiles.json")
        let profiles = FileManager.default.fileExists(atPath: profilesURL.path)
            ? try loadProfiles(profilesURL) : NABProfile.published
        return NABCorpus(series: series, profiles: profiles)
    }

    /// `<corpus>/<name>.csv` for every CSV one folder below `data`, sorted.
    static func dataFileKeys(_ data: URL) throws -> [String] {
        let manager = FileManager.default
        let corpora: [String]
        do { corpora = try manager.contentsOfDirectory(atPath: data.path) } catch {
            throw NABError.unreadable(path: data.path, reason: "\(error)")
        }
        var keys: [String] = []
        for corpus in corpora where !corpus.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let folder = data.appendingPathComponent(corpus)
            guard manager.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let files = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
            keys += files.filter { $0.hasSuffix(".csv") && !$0.hasPrefix(".") }.map { "\(corpus)/\($0)" }
        }
        return keys.sorted()
    }

    static func loadWindows(_ url: URL) throws -> [String: [(start: Double, end: Double)]] {
        guard let object = try readJSON(url) as? [String: [[String]]] else {
            throw NABError.malformedJSON(path: url.path, reason: "expected an object of file -> list of [start, end] timestamps")
        }
        var windows: [String: [(start: Double, end: Double)]] = [:]
        for (file, pairs) in object {
            windows[file] = try pairs.map { pair in
                guard pair.count == 2, let start = SeriesTimestamp.parse(pair[0]),
                      let end = SeriesTimestamp.parse(pair[1]) else {
                    throw NABError.malformedJSON(path: url.path, reason: "\(file): a window is not two timestamps: \(pair)")
                }
                return (start, end)
            }
        }
        return windows
    }

    static func loadProfiles(_ url: URL) throws -> [NABProfile] {
        guard let object = try readJSON(url) as? [String: [String: [String: Double]]] else {
            throw NABError.malformedJSON(path: url.path, reason: "expected profile -> {CostMatrix: {tpWeight, fpWeight, fnWeight}}")
        }
        let profiles = try object.map { name, body in
            guard let matrix = body["CostMatrix"], let tp = matrix["tpWeight"], let fp = matrix["fpWeight"],
                  let fn = matrix["fnWeight"] else {
                throw NABError.malformedJSON(path: url.path, reason: "profile \(name) lacks CostMatrix tpWeight, fpWeight or fnWeight")
            }
            return NABProfile(name: name, truePositiveWeight: tp, falsePositiveWeight: fp, falseNegativeWeight: fn)
        }
        // The published profiles first, in the scoreboard's order; any others after them by name.
        let order = NABProfile.published.map(\.name)
        return profiles.sorted { a, b in
            let (i, j) = (order.firstIndex(of: a.name) ?? order.count, order.firstIndex(of: b.name) ?? order.count)
            return i != j ? i < j : a.name < b.name
        }
    }

    private static func readJSON(_ url: URL) throws -> Any {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw NABError.unreadable(path: url.path, reason: "\(error)") }
        do { return try JSONSerialization.jsonObject(with: data) } catch {
            throw NABError.malformedJSON(path: url.path, reason: "\(error)")
        }
    }
}

/// The published outputs of NAB's detectors, `results/<detector>/<corpus>/<detector>_<name>.csv`
/// with the columns `timestamp,value,anomaly_score`, read as scorer inputs.
public enum NABPublishedResults {
    /// The detectors with a folder under `results/` of the NAB directory, sorted.
    public static func detectors(in nabDirectory: URL) -> [String] {
        let results = nabDirectory.appendingPathComponent("results")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && FileManager.default.fileExists(atPath: results.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    /// The anomaly scores `detector` published for every series of `corpus`, keyed like
    /// `NABSeries.key`. Throws when a series has no results file or the file is malformed.
    public static func outputs(of detector: String, in nabDirectory: URL, for corpus: NABCorpus) throws -> [String: [Double]] {
        var outputs: [String: [Double]] = [:]
        for series in corpus.series {
            let parts = series.key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw NABError.missingOutput(file: series.key) }
            let url = nabDirectory.appendingPathComponent("results").appendingPathComponent(detector)
                .appendingPathComponent(parts[0]).appendingPathComponent("\(detector)_\(parts[1])")
            guard FileManager.default.fileExists(atPath: url.path) else { throw NABError.missingOutput(file: series.key) }
            outputs[series.key] = try NABTable.read(url, columns: 3).columns[1]
        }
        return outputs
    }
}

/// A NAB CSV: a header line, then a timestamp and `columns - 1` numbers per line.
struct NABTable {
    var timestamps: [Double] = []
    var columns: [[Double]]

    static func read(_ url: URL, columns count: Int) throws -> NABTable {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw NABError.unreadable(path: url.path, reason: "\(error)") }
        var table = NABTable(columns: Array(repeating: [], count: count - 1))
        // Split bytes, not Characters: to Swift "\r\n" is one Character, not a "\n".
        let lines = [UInt8](data).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (offset, var line) in lines.enumerated() {
            let lineNumber = offset + 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if offset == 0 || line.isEmpty { continue }
            let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            guard fields.count >= count else {
                throw NABError.malformedRow(path: url.path, line: lineNumber, reason: "expected \(count) fields, found \(fields.count)")
            }
            guard let time = SeriesTimestamp.parse(fields[0]) else {
                throw NABError.malformedRow(path: url.path, line: lineNumber, reason: "'\(fields[0])' is not a YYYY-MM-DD HH:MM:SS timestamp")
            }
            table.timestamps.append(time)
            for column in 1..<count {
                guard let value = Double(fields[column]) else {
                    throw NABError.malformedRow(path: url.path, line: lineNumber, reason: "'\(fields[column])' is not a number")
                }
                table.columns[column - 1].append(value)
            }
        }
        return table
    }
}
