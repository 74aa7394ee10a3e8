import MedicModel
import XCTest

/// One typing of unquoted values everywhere: YAML 1.2 core (docs/format.md, "Common rules").
final class PlainScalarTests: XCTestCase {
    func testTheCoreSchemaTypesEachSpelling() {
        for text in ["", "~", "null", "Null", "NULL"] { XCTAssertEqual(PlainScalar.resolve(text), .null, text) }
        XCTAssertEqual(PlainScalar.resolve("True"), .boolean(true))
        XCTAssertEqual(PlainScalar.resolve("FALSE"), .boolean(false))
        XCTAssertEqual(PlainScalar.resolve("42"), .integer(42))
        XCTAssertEqual(PlainScalar.resolve("+42"), .integer(42))
        XCTAssertEqual(PlainScalar.resolve("-0"), .integer(0))
        XCTAssertEqual(PlainScalar.resolve("0o17"), .integer(15))
        XCTAssertEqual(PlainScalar.resolve("0x1F"), .integer(31))
        XCTAssertEqual(PlainScalar.resolve("99999999999999999999"), .integer(nil), "an integer too large for 64 bits")
        XCTAssertEqual(PlainScalar.resolve("1.0000000000000000000000000001e-300"), .float(1e-300))
        XCTAssertEqual(PlainScalar.resolve("1."), .float(1))
        XCTAssertEqual(PlainScalar.resolve(".5"), .float(0.5))
        XCTAssertEqual(PlainScalar.resolve("-2.e3"), .float(-2000))
        XCTAssertEqual(PlainScalar.resolve("1e3"), .float(1000))
        for text in ["-.Inf", "-.INF", "-.inf"] { XCTAssertEqual(PlainScalar.resolve(text), .float(-.infinity), text) }
        for text in ["+.Inf", "+.INF", ".inf", ".Inf"] { XCTAssertEqual(PlainScalar.resolve(text), .float(.infinity), text) }
        XCTAssertTrue(PlainScalar.resolve(".NaN").numberValue?.isNaN == true)
        for text in ["1_000", "0b101", "1:30", "yes", "no", "on", "0x1p3", "infinity", "inf", "nan", ".", "-", "+", "1e",
                     "1.2.3", "0x", "0o8", "-0x1F", "2.1.0", "TRUE!", "Inf", ".infinity"] {
            XCTAssertEqual(PlainScalar.resolve(text), .text, text)
        }
    }

    func testJSONNumberGrammarIsRFC8259s() {
        for text in ["0", "-0", "10", "0.5", "-0.5", "1e3", "1E+3", "1e-3", "-0.0e0", "123.456"] {
            XCTAssertTrue(JSONNumberGrammar.matches(text), text)
        }
        for text in ["-01", "-012", "1.", "-2.", "0.e1", "2.e3", "2.e+3", "2.e-3", "-.123", "-00", "-0.e1", "-00.5",
                     "01", "+1", ".5", "1e", "-", "", "1.5e", "0x1"] {
            XCTAssertFalse(JSONNumberGrammar.matches(text), text)
        }
        XCTAssertEqual(JSONNumberGrammar.length(of: Array("12,".utf8), from: 0), 2, "stops where the number ends")
    }

    func testParameterValuesAreTypedByTheSameSchema() throws {
        XCTAssertEqual(ParameterSpec.inferred("1e3", quoted: false), .number(1000))
        XCTAssertEqual(ParameterSpec.inferred("0x1F", quoted: false), .integer(31))
        XCTAssertEqual(ParameterSpec.inferred("1_000", quoted: false), .string("1_000"))
        XCTAssertEqual(ParameterSpec.inferred("1e3", quoted: true), .string("1e3"))
        let count = ParameterSpec(name: "keep_last", type: .integer)
        XCTAssertEqual(try count.accept(.scalar("0x10", quoted: false)).get(), .integer(16))
        if case .success(let value) = count.accept(.scalar("1_000", quoted: false)) { XCTFail("1_000 is text, read as \(value)") }
        let ratio = ParameterSpec(name: "ratio", type: .number)
        XCTAssertEqual(try ratio.accept(.scalar("1.0000000000000000000000000001e-300", quoted: false)).get(), .number(1e-300))
        for text in ["0x1p3", "inf", "nan", "-.inf"] {
            if case .success(let value) = ratio.accept(.scalar(text, quoted: false)) { XCTFail("\(text) read as \(value)") }
        }
    }
}
