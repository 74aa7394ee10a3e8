import Foundation
@testable import MedicEngine
import MedicModel
import XCTest

/// The journal's hand-written JSON for its most frequent records must say exactly what
/// JSONEncoder says, and must know every field of JournalRecord.
final class JournalFastEncodingTests: XCTestCase {
    func testEveryFieldOfJournalRecordIsWrittenOrRefusedByTheFastPath() {
        let fields = Set(Mirror(reflecting: JournalRecord(event: .stepStarted)).children.compactMap(\.label))
        XCTAssertEqual(fields, JournalCodec.fastEncodedFields,
                       "JournalRecord's fields changed: teach JournalCodec.fastEncode the new one (or refuse it), and its list")
    }

    func testTheFastPathAndJSONEncoderAgree() throws {
        var started = JournalRecord(event: .stepStarted, seq: 42, at: "2026-11-23T10:15:00.123Z")
        started.step = 3
        started.phase = .rollback
        started.attempt = 2
        started.idempotent = false
        started.item = 0
        started.target = "web-1.example.com"
        var finished = JournalRecord(event: .stepFinished, seq: 43, at: "2026-11-23T10:15:01.000Z")
        finished.step = 3
        finished.phase = .step
        finished.target = "h/1"
        finished.result = ExecutionResult(
            succeeded: false, exitStatus: 3, signal: 9, timedOut: true, stdout: "tab\there \"quoted\" back\\slash /path",
            stderr: "line 1\nline 2\r\u{1}\u{1F}é ✓ \u{2028}", seconds: 0.0123456789, outputs: ["b": "2", "a": "x=y\n", "seq": "0"],
            summary: "exit 3")
        var misc = JournalRecord(event: .runFinished, seq: 7, at: "2026-11-23T10:15:02.000Z")
        misc.outcome = .rollbackFailed
        misc.message = "done \u{0}"
        misc.delay = 2.5
        misc.mode = .automated
        misc.pid = 4242
        misc.seed = UInt64.max
        misc.run = "20261123-101500-3f9a1c0d"
        misc.host = "vm"
        misc.by = "alice"
        misc.role = "dba"
        misc.until = "2026-11-23T11:00:00.000Z"
        misc.passed = true
        misc.stage = 2
        for record in [started, finished, misc] {
            let fast = try XCTUnwrap(JournalCodec.fastEncode(record), "\(record.event)")
            let slow = try JournalCodec.encodeWithFoundation(record)
            let a = try JSONSerialization.jsonObject(with: Data(fast)) as? NSDictionary
            let b = try JSONSerialization.jsonObject(with: Data(slow)) as? NSDictionary
            XCTAssertEqual(a, b, String(decoding: fast, as: UTF8.self))
            XCTAssertEqual(try JournalCodec.decode(Substring(String(decoding: fast, as: UTF8.self))), record)
            XCTAssertTrue(fast.starts(with: Array(#"{"at":""#.utf8)), "keys sorted: `at` first, as stamping expects")
        }
    }

    func testRecordsTheFastPathDoesNotWriteGoThroughJSONEncoder() throws {
        var record = JournalRecord(event: .stageStarted)
        record.targets = ["a", "b"]
        XCTAssertNil(JournalCodec.fastEncode(record))
        var infinite = JournalRecord(event: .retryScheduled)
        infinite.delay = .infinity
        XCTAssertNil(JournalCodec.fastEncode(infinite), "JSON has no infinity: JSONEncoder reports it")
        XCTAssertNotNil(try? JournalCodec.encode(record))
    }
}
