import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The JSON reader (which places every value) against the strict decoder: a document it reads
/// holds what JSONSerialization reads from it, and its errors are placed where they are.
final class JSONDocumentEquivalenceTests: XCTestCase {
    private func read(_ text: String) -> (SourceNode?, [Diagnostic]) {
        DocumentReader().read(bytes: Array(text.utf8), path: "d.json")
    }

    /// The node as the Foundation value it stands for: strings stay strings, numbers and
    /// literals are their text as JSONSerialization would give it back.
    private func same(_ node: SourceNode, _ value: Any, _ context: String) {
        switch node.content {
        case .mapping(let pairs):
            guard let object = value as? [String: Any] else { return XCTFail("\(context): not an object") }
            XCTAssertEqual(pairs.map(\.key).sorted(), object.keys.sorted(), context)
            for pair in pairs { same(pair.value, object[pair.key] as Any, context + "." + pair.key) }
        case .sequence(let items):
            guard let array = value as? [Any] else { return XCTFail("\(context): not an array") }
            XCTAssertEqual(items.count, array.count, context)
            for (item, element) in zip(items, array) { same(item, element, context + "[]") }
        case .scalar(let scalar) where scalar.style == .quoted:
            XCTAssertEqual(scalar.text, value as? String, context)
        case .scalar(let scalar):
            switch scalar.text {
            case "null": XCTAssertTrue(value is NSNull, context)
            case "true", "false": XCTAssertEqual((value as? NSNumber)?.boolValue, scalar.text == "true", context)
            default: XCTAssertEqual(Double(scalar.text), (value as? NSNumber)?.doubleValue, context)
            }
        }
    }

    func testReadsWhatJSONSerializationReads() throws {
        let documents = [
            #"{"a": [1, -2.5e3, "x\"y\\z\/", true, false, null, {}], "b": {"c": []}, "d": 0, "e": -0.5E-3}"#,
            #"{"esc": "\b\f\n\r\t\u00e9\u20AC\ud83d\ude00\u0000", "caf\#u{e9}": "\#u{1F600} ok"}"#,
            "{\n\t\"nested\": [[[[\"deep\"]]]],\r\n \"n\": 123456789012345\n}",
            #"{"playbook_id": "x", "steps": [{"name": "s", "run": "echo \"hi\""}], "weight": 0.1}"#,
        ]
        for text in documents {
            let (node, diagnostics) = read(text)
            XCTAssertEqual(diagnostics, [], text)
            let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
            same(try XCTUnwrap(node, text), value, text)
        }
    }

    func testRefusesWhatJSONSerializationRefusesAtItsPlace() {
        // (document, line, column, message): columns count characters, not bytes.
        let cases: [(String, Int, Int, String)] = [
            (#"{"a": "\x"}"#, 1, 9, #"invalid escape '\x'"#),
            ("{\"\u{e9}\u{e9}\": \"\\q\"}", 1, 10, #"invalid escape '\q'"#),
            (#"{"a": "\u12G4"}"#, 1, 12, #"expected four hex digits after \u"#),
            (#"{"a": "\u12"#, 1, 12, #"expected four hex digits after \u"#),
            (#"{"a": "\ud83d"}"#, 1, 14, #"unpaired surrogate in \u escape"#),
            (#"{"a": "\ud83d\x"}"#, 1, 15, #"unpaired surrogate in \u escape"#),
            (#"{"a": "\ud83d\u0041"}"#, 1, 20, #"unpaired surrogate in \u escape"#),
            (#"{"a": "\ude00"}"#, 1, 14, #"invalid \u escape"#),
            ("{\"a\":\n  \"x\u{1}\"}", 2, 5, "control character in a string"),
            (#"{"a": "open"#, 1, 12, "unterminated string"),
            (#"{"a": 01}"#, 1, 7, "'01' is not a JSON number"),
            (#"{"a": 1-2}"#, 1, 7, "'1-2' is not a JSON number"),
            (#"{"a": tru}"#, 1, 7, "'tru' is not a JSON value"),
            (#"{"a": 1,}"#, 1, 9, "trailing comma before '}'"),
            ("[1,\n 2,\n]", 3, 1, "trailing comma before ']'"),
            (#"{"a" 1}"#, 1, 6, "expected ':' after the member name, found '1'"),
            ("{\"a\": 1 \u{1F600}}", 1, 9, "expected ',' or '}', found '\u{1F600}'"),
            (#"{"a": 1"#, 1, 8, "expected ',' or '}', found the end of the file"),
            (#"{"a": 1} x"#, 1, 10, "unexpected text after the JSON value"),
        ]
        for (text, line, column, message) in cases {
            // Foundation on Linux takes a trailing comma; RFC 8259 (and Medic) do not.
            if !message.hasPrefix("trailing comma") {
                XCTAssertNil(try? JSONSerialization.jsonObject(with: Data(text.utf8)), "JSONSerialization read \(text)")
            }
            let (node, diagnostics) = read(text)
            XCTAssertNil(node, text)
            XCTAssertEqual(diagnostics.map(\.message), [message], text)
            XCTAssertEqual(diagnostics.first?.location.line, line, text)
            XCTAssertEqual(diagnostics.first?.location.column, column, text)
        }
    }
}
