import Foundation
import MedicDetect
import XCTest

/// The JSON Lines sample reader against the strict decoder: a line it reads is a line
/// JSONSerialization reads to the same time, metric, labels and value, and a line
/// JSONSerialization refuses as JSON it refuses too.
final class JSONLinesEquivalenceTests: XCTestCase {
    static let readable = [
        #"{"ts": 1714557600, "metric": "disk_usage_percent", "labels": {"host": "a", "path": "/var"}, "value": 91.5}"#,
        #"{"metric":"up","value":1,"ts":1714557600.25}"#,
        #"{"ts": 1.7145576e9, "metric": "up", "value": -2.5E-1}"#,
        #"{"ts": 0, "metric": "up", "labels": {"path": "C:\\dir \"x\"\n\u00e9\ud83d\ude00\/\b\f\r\t"}, "value": 1}"#,
        #"{"ts": 0, "metric": "up", "labels": {"k": "caf\#u{e9} \#u{1F600}"}, "value": 0.1}"#,
        #"{"ts": 1714557600123, "metric": "up", "value": 1e300}"#,
        #"{"ts": 0, "metric": "up", "value": 0.000001, "extra": {"a": [1, {"b": null}, true, "s"]}}"#,
        #" {"ts": -0, "metric": "a:b_c", "value": -0.0e0} "#,
        #"{"ts": 9007199254740993, "metric": "up", "value": 2.2250738585072014e-308}"#,
    ]

    func testReadsWhatJSONSerializationReadsTheSame() throws {
        let parser = JSONLinesSampleParser()
        for line in Self.readable {
            let sample = try parser.parse(line: line[...], number: 1).get()
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            XCTAssertEqual(sample?.time, (object["ts"] as? NSNumber)?.doubleValue, line)
            XCTAssertEqual(sample?.value, (object["value"] as? NSNumber)?.doubleValue, line)
            XCTAssertEqual(sample?.metric, object["metric"] as? String, line)
            XCTAssertEqual(sample?.labels, (object["labels"] as? [String: String]) ?? [:], line)
        }
    }

    static let notJSON = [
        #"{"ts": 0, "metric": "up", "value": 01}"#, #"{"ts": 0, "metric": "up", "value": 1.}"#,
        #"{"ts": 0, "metric": "up", "value": .5}"#, #"{"ts": 0, "metric": "up", "value": +1}"#,
        #"{"ts": 0, "metric": "up", "value": 1e}"#, #"{"ts": 0, "metric": "up", "value": 1, "x": tru}"#,
        #"{"ts": 0, "metric": "up", "labels": {"a": "\x"}, "value": 1}"#,
        #"{"ts": 0, "metric": "up", "labels": {"a": "\u12"}, "value": 1}"#,
        #"{"ts": 0, "metric": "up", "labels": {"a": "\ude00"}, "value": 1}"#,
        #"{"ts": 0, "metric": "up", "labels": {"a": "\ud83d\u0041"}, "value": 1}"#,
        "{\"ts\": 0, \"metric\": \"up\", \"labels\": {\"a\": \"\u{1}\"}, \"value\": 1}",
        #"{"ts": 0, "metric": "up", "value": 1} x"#, #"{"ts": 0, "metric": "up", "value": 1"#,
        #"{"ts": 0, "metric": "up", "value": 1, "x": [1 2]}"#, #"{"ts": 0, "metric": "up", "value": 1, "x": {"a" 1}}"#,
    ]

    func testRefusesWhatJSONSerializationRefuses() {
        let parser = JSONLinesSampleParser()
        for line in Self.notJSON {
            XCTAssertNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)), "JSONSerialization read \(line)")
            guard case .failure = parser.parse(line: line[...], number: 1) else { return XCTFail("read \(line)") }
        }
    }
}
