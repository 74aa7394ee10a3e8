import Foundation
@testable import MedicKnowledge
import XCTest

/// The store's own JSON check agrees with JSONSerialization on whether a line is a JSON object.
final class JSONSyntaxTests: XCTestCase {
    static let objects = [
        #"{}"#, #" { } "#, #"{"a":1}"#, #"{"a":-0.5e+10,"b":[true,false,null,{"c":"d"}],"e":""}"#,
        #"{"esc":"\"\\\/\b\f\n\r\t\u00e9\uABCD"}"#, #"{"a":[[[]]],"b":{}}"#, #"{"a":0,"b":1E3,"c":-12.25}"#,
        #"{"dup":1,"dup":2}"#, "{\"caf\u{e9}\":\"\u{1F600}\"}", #"{"pair":"\ud83d\ude00"}"#,
        "{\t\"a\" :\r 1 }",
    ]
    static let notObjects = [
        #"[1]"#, #"1"#, #""s""#, #"true"#, #"null"#, "", "   ",
        #"{"#, #"{"a"}"#, #"{"a":}"#, #"{a:1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#,
        #"{"a":+1}"#, #"{"a":1e}"#, #"{"a":tru}"#, #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"\u{1}\"}",
        #"{"a":1} x"#, #"{"a":1}{}"#, #"{'a':1}"#, #"{"a":NaN}"#, #"{"a":"unterminated}"#,
    ]

    /// Foundation on Linux takes a trailing comma; RFC 8259 (and jq, and Python) do not, and a
    /// record must be readable by them too.
    static let trailingCommas = [#"{"a":1,}"#, #"{"a":[1,]}"#]

    func testRefusesTrailingCommasThatFoundationTakes() {
        for text in Self.trailingCommas { XCTAssertFalse(accepted(text).ours, "accepted \(text)") }
    }

    func accepted(_ text: String) -> (ours: Bool, foundation: Bool) {
        let bytes = Array(text.utf8)[...]
        return (JSONLine.objectRefusal(bytes) == nil, JSONLine.foundationRefusal(bytes) == nil)
    }

    func testAcceptsWhatJSONSerializationReadsAsAnObject() {
        for text in Self.objects {
            let verdict = accepted(text)
            XCTAssertTrue(verdict.ours, "refused \(text)")
            XCTAssertTrue(verdict.foundation, "JSONSerialization refused \(text)")
        }
    }

    func testRefusesWhatJSONSerializationRefusesOrIsNotAnObject() {
        for text in Self.notObjects {
            let verdict = accepted(text)
            XCTAssertFalse(verdict.ours, "accepted \(text)")
            XCTAssertFalse(verdict.foundation, "JSONSerialization accepted \(text)")
        }
    }

    func testDeepNestingIsLeftToJSONSerialization() {
        let deep = "{\"a\":" + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        let verdict = Array(deep.utf8).withUnsafeBufferPointer { JSONSyntax.check($0) }
        XCTAssertEqual(verdict, .undecided)
    }
}
