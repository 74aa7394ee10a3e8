import Foundation
import XCTest

/// What a run left on disk, read strictly: a line that does not decode fails the test where it is
/// read, instead of vanishing from the list (a test reading "no such record" from a file it could
/// not read would pass without having tested anything).
enum RunEvidence {
    /// Every line of a JSON-lines file, each decoded to an object. A missing or unreadable file
    /// throws; so does a line that is not a JSON object, naming its line number.
    static func lines(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        var text = try String(contentsOfFile: path, encoding: .utf8)
        if text.hasSuffix("\n") { text.removeLast() }
        if text.isEmpty { return [] }
        return try text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, body in
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return try XCTUnwrap(object, "\(path):\(index + 1) is not a JSON object: \(body)", file: file, line: line)
        }
    }

    /// The gate verdicts of a run's `gates_evaluated` record, in the order the run journaled them.
    static func gates(_ records: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let evaluated = records.filter { $0["event"] as? String == "gates_evaluated" }
        XCTAssertEqual(evaluated.count, 1, "one gates_evaluated record", file: file, line: line)
        return try XCTUnwrap(evaluated.first?["gates"] as? [[String: Any]], "gates_evaluated has its gates", file: file, line: line)
    }

    /// The `dev.medic.run.refused` CloudEvents of the outbox in `state` for `runID`: their `data`.
    static func refusals(inState state: String, runID: String) throws -> [[String: Any]] {
        let outbox = state + "/outbox.jsonl"
        guard FileManager.default.fileExists(atPath: outbox) else { return [] }
        return try lines(outbox).filter { $0["type"] as? String == "dev.medic.run.refused" }
            .compactMap { $0["data"] as? [String: Any] }.filter { $0["run_id"] as? String == runID }
    }
}
