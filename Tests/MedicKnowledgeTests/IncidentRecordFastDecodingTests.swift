import Foundation
@testable import MedicKnowledge
import XCTest

/// `incident-history.jsonl` read by the small parser must give exactly what JSONDecoder gives,
/// and anything it does not know must fall back (nil), never read differently.
final class IncidentRecordFastDecodingTests: XCTestCase {
    private func record(outcome: IncidentRecord.RunOutcome, watched: Bool, odd: Bool) -> IncidentRecord {
        IncidentRecord(
            incidentID: "inc-\u{1F525}-\"quoted\"\\back", timestamp: "2026-11-23T10:00:00.000Z", endedAt: "2026-11-23T10:01:00.250Z",
            runID: "20261123-100000-abcdef12", mode: watched ? .automated : .manual, runOutcome: outcome,
            detection: .init(method: watched ? .anomalyDetection : .manual, detectionTime: "2026-11-23T10:00:00.000Z",
                             timeToDetect: watched ? 61.5 : nil, initialSeverity: odd ? "SEV1" : nil, rule: watched ? "disk\nfilling" : nil),
            classification: .init(category: odd ? "infrastructure" : nil, rootCause: nil, affectedComponents: odd ? ["a", "b/c"] : [],
                                  blastRadius: odd ? "single_service" : nil),
            remediation: .init(playbookID: "p-001", playbookVersion: "1.0.0", executionTime: 0.125,
                               stepsExecuted: [.init(step: 1, name: "tab\there", target: odd ? "h1" : nil, succeeded: true, attempts: 2, duration: odd ? 1.25 : nil),
                                               .init(step: 2, name: "é ✓ \u{1}", succeeded: false, attempts: 1)],
                               outcome: outcome == .refused ? nil : outcome == .succeeded ? .success : .failed),
            impact: .init(duration: odd ? nil : 60.25, servicesAffected: odd ? ["web"] : [], usersAffected: odd ? 1200 : nil),
            resolution: .init(resolutionMethod: outcome == .rolledBack ? .rollback : watched ? .autoRemediation : .manual,
                              timeToResolution: outcome == .succeeded ? 90 : nil, verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: outcome == .escalated, approvalRequested: odd, denied: !odd && watched,
                            environment: odd ? "prod" : nil, host: odd ? "vm-1" : nil))
    }

    func testTheParserReadsWhatJSONEncoderWroteExactlyAsJSONDecoderDoes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for outcome in IncidentRecord.RunOutcome.allCases {
            for watched in [false, true] {
                for odd in [false, true] {
                    let original = record(outcome: outcome, watched: watched, odd: odd)
                    let line = Array(try encoder.encode(original))
                    let fast = try XCTUnwrap(IncidentRecord(fastJSON: line[...]), String(decoding: line, as: UTF8.self))
                    XCTAssertEqual(fast, try JSONDecoder().decode(IncidentRecord.self, from: Data(line)))
                    XCTAssertEqual(fast, original)
                }
            }
        }
    }

    func testWhatTheParserDoesNotKnowFallsBack() {
        for text in [#"{"v":2}"#, #"{"v":1,"incident_id":"x"}"#, #"{"v":1,"#, "[1,2]", #"{"v":1} trailing"#, "",
                     #"{"a":"\ud800"}"#, #"{"a":"\q"}"#, #"{"a":1e999}"#] {
            XCTAssertNil(IncidentRecord(fastJSON: Array(text.utf8)[...]), text)
        }
        // A field of another type than the record's: nil here, and JSONDecoder says why.
        let encoder = JSONEncoder()
        var text = String(decoding: try! encoder.encode(record(outcome: .succeeded, watched: true, odd: true)), as: UTF8.self)
        text = text.replacingOccurrences(of: #""attempts":2"#, with: #""attempts":"2""#)
        XCTAssertNil(IncidentRecord(fastJSON: Array(text.utf8)[...]))
    }

    func testTheTreeParserRefusesWhatIsNotJSONAndRepeatedKeys() {
        func parses(_ bytes: [UInt8]) -> Bool {
            bytes.withUnsafeBufferPointer { buffer in
                var parser = JSONTreeParser(buffer)
                return parser.value() != nil && parser.atEnd
            }
        }
        for text in [#"{"a":0}"#, #"{"a":-0.5e+3}"#, #"{"a":10E2}"#, #"{"a":"é✓😀"}"#] {
            XCTAssertTrue(parses(Array(text.utf8)), text)
        }
        // Numbers JSON does not allow (JSONDecoder refuses them), and a repeated key (which one
        // JSONDecoder keeps differs between platforms): left to JSONDecoder.
        for text in [#"{"a":01}"#, #"{"a":+1}"#, #"{"a":.5}"#, #"{"a":1.}"#, #"{"a":1e}"#, #"{"a":-}"#, #"{"a":1,"a":2}"#] {
            XCTAssertFalse(parses(Array(text.utf8)), text)
        }
        // Bytes that are not UTF-8 are refused, never repaired.
        for bad: [UInt8] in [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x9C], [0xFF]] {
            XCTAssertFalse(parses(Array(#"{"a":"x"#.utf8) + bad + Array(#""}"#.utf8)), "\(bad)")
        }
    }

    func testEscapesAndSurrogatePairsReadAsTheirCharacters() {
        let line = #"{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}"#
        let tree: JSONNode? = Array(line.utf8).withUnsafeBufferPointer { buffer in
            var parser = JSONTreeParser(buffer)
            return parser.value()
        }
        guard case .object(let o)? = tree else { return XCTFail("no object") }
        XCTAssertEqual(o["s"]?.string, "a\"b\\c/d\u{8}\u{C}\n\r\té😀")
    }
}
