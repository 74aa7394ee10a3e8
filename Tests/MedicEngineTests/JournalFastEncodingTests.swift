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
        var process = JournalRecord(event: .stepProcess, seq: 44, at: "2026-11-23T10:15:00.200Z")
        process.step = 3
        process.phase = .step
        process.attempt = 1
        process.processes = [StepProcess(pid: 31337, startTicks: UInt64.max, bootID: "237b5dfc-bbb8-4ff2", token: "20261123-101500-3f9a1c0d/42"),
                             StepProcess(pid: 2, startTicks: 0, bootID: "b", token: nil, command: "/bin/sh -c \"x\"\n é")]
        for record in [started, finished, misc, process] {
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

final class JournalTimeTests: XCTestCase {
    func testTheJournalsTimesReadAsTheDateParserReadThem() throws {
        let parser = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for text in ["1970-01-01T00:00:00.000Z", "2026-11-23T14:41:21.123Z", "2000-02-29T23:59:59.999Z", "2100-03-01T00:00:00.001Z",
                     "1999-12-31T12:00:00.500Z", "2024-02-29T06:07:08.009Z", "2026-11-23T14:41:21+01:00", "2026-11-23T14:41:21Z"] {
            XCTAssertEqual(try XCTUnwrap(JournalRecord.date(text)).timeIntervalSince1970,
                           try parser.parse(text).timeIntervalSince1970, accuracy: 0.0005, text)
        }
        // Every time the journal writes reads back, and is written as the date parser's style wrote it.
        for seconds in stride(from: 0.0, to: 4_000_000_000, by: 86_399_937.25) {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(JournalRecord.timestamp(date), date.formatted(parser))
            XCTAssertEqual(try XCTUnwrap(JournalRecord.date(JournalRecord.timestamp(date))).timeIntervalSince1970, seconds, accuracy: 0.0005)
        }
        for text in ["2026-11-23 14:41:21.123Z", "2026-13-23T14:41:21.123Z", "20x6-11-23T14:41:21.123Z", "2026-11-23T14:41:21.123", ""] {
            XCTAssertNil(JournalRecord.date(text), text)
        }
    }
}
