import Foundation
import MedicDetect
import MedicModel
import XCTest

/// The readers behind `medic detect`, `medic backtest` and `medic watch --input`, through the
/// library: a series file scored row by row, a feed of samples, a detector named by flags.
final class FeedReadingTests: XCTestCase {
    private func file(_ text: String, named name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-feed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Collects what a reader reports or writes.
    private final class Sink {
        var lines: [String] = []
        var bytes: [UInt8] = []
    }

    func testSeriesScoringWritesAScoredRowPerReadableRowAndReportsTheOthers() throws {
        let csv = try file("timestamp,value\n0,80\n60,high\n120,170\n", named: "cpu.csv")
        let sink = Sink()
        let scoring = SeriesScoring(write: { sink.bytes += $0 }, report: { sink.lines.append($0) })
        var detector = Detectors.make(.threshold(op: .greater, value: .number(85)))
        XCTAssertEqual(try scoring.score(csv: csv, with: &detector), 1)
        XCTAssertEqual(String(decoding: sink.bytes, as: UTF8.self), "timestamp,value,anomaly_score\n0,80,0.0\n120,170,0.75\n")
        XCTAssertEqual(sink.lines, ["\(csv):3: 'high' is not a number"])
    }

    func testSeriesScoringFailsOnAFileItCannotOpen() throws {
        let scoring = SeriesScoring(write: { _ in }, report: { _ in })
        var detector = Detectors.make(.threshold(op: .greater, value: .number(85)))
        XCTAssertThrowsError(try scoring.score(csv: "/nonexistent/cpu.csv", with: &detector)) {
            XCTAssertEqual(($0 as? SeriesScoring.Failure)?.description,
                           "/nonexistent/cpu.csv: cannot open the file (does it exist, and is it readable?)")
        }
    }

    func testASampleFeedSkipsAndReportsUnreadableLinesUpToItsLimit() throws {
        let lines = [#"{"ts": 1, "metric": "m", "value": 1}"#, "not json", "nor this", "nor that", #"{"ts": 2, "metric": "m", "value": 2}"#]
        let path = try file(lines.joined(separator: "\n") + "\n", named: "feed.jsonl")
        let sink = Sink()
        var feed = try SampleFeed(source: path, format: nil, metric: nil, reportedFailures: 2, report: { sink.lines.append($0) })
        var values: [Double] = []
        while let sample = try feed.next() { values.append(sample.value) }
        XCTAssertEqual(values, [1, 2])
        XCTAssertEqual(feed.summary.skipped, 3)
        XCTAssertEqual(feed.summary.samples, 2)
        XCTAssertEqual(sink.lines.count, 2, "only the first two are reported")
        XCTAssertTrue(sink.lines.allSatisfy { $0.hasPrefix("\(path):") }, "\(sink.lines)")
    }

    func testASampleFeedRefusesADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.path
        XCTAssertThrowsError(try SampleFeed(source: dir, format: .jsonLines, metric: nil, reportedFailures: 5, report: { _ in })) {
            XCTAssertEqual(($0 as? SampleFeed.Failure)?.description, "\(dir): is a directory, not a data file")
        }
    }

    func testDetectorFlagsBecomeAOneRuleDocumentAndRefuseWhatCannotBeOne() throws {
        let document = try DetectorFlags(detector: "ewma", params: ["alpha=0.3", "mode=fast"]).document()
        XCTAssertTrue(document.contains(#"detector: "ewma""#), document)
        XCTAssertTrue(document.contains(#"params: {alpha: 0.3, mode: "fast"}"#), document)
        for (params, message) in [
            (["alpha"], "--param 'alpha' is not key=value; for example --param window=60"),
            (["alpha=1", "alpha=2"], "--param alpha is given twice"),
            (["1x=2"], "--param '1x=2': '1x' is not a parameter name (letters, digits and _)"),
        ] {
            XCTAssertThrowsError(try DetectorFlags(detector: "ewma", params: params).document()) {
                XCTAssertEqual(($0 as? DetectorFlags.Failure)?.description, message)
            }
        }
    }
}
