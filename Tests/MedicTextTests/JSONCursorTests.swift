import MedicText
import XCTest

final class JSONCursorTests: XCTestCase {
    /// Runs `read` on a cursor over `text`; the value and where the cursor stopped, or the error.
    func read<T>(_ text: String, _ read: (inout JSONCursor) throws(JSONTextError) -> T) -> Result<(T, Int), JSONTextError> {
        Array(text.utf8).withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            do throws(JSONTextError) {
                let value = try read(&cursor)
                return .success((value, cursor.offset))
            } catch {
                return .failure(error)
            }
        }
    }

    func string(_ text: String) -> Result<(String, Int), JSONTextError> { read(text) { c throws(JSONTextError) in try c.readString() } }

    func error(_ result: Result<some Any, JSONTextError>) -> JSONTextError? {
        if case .failure(let error) = result { error } else { nil }
    }

    func testReadsStringsWithEveryEscape() throws {
        XCTAssertEqual(try string(#""plain" tail"#).get().0, "plain")
        XCTAssertEqual(try string(#""plain" tail"#).get().1, 7)
        XCTAssertEqual(try string(#""\"\\\/\b\f\n\r\t""#).get().0, "\"\\/\u{8}\u{C}\n\r\t")
        XCTAssertEqual(try string(#""\u00e9\u0041\u20AC""#).get().0, "éA€")
        XCTAssertEqual(try string(#""\u0000""#).get().0, "\u{0}")
        // U+1F600 is the pair D83D DE00: 0x10000 + (0x3D << 10) + 0x200.
        XCTAssertEqual(try string(#""\ud83d\ude00!""#).get().0, "\u{1F600}!")
        XCTAssertEqual(try string("\"caf\u{e9} \u{1F600}\"").get().0, "café \u{1F600}")
        // Longer than the eight-byte steps, with the quote in the middle of a word.
        XCTAssertEqual(try string(#""abcdefghijklmnopq" , "#).get().0, "abcdefghijklmnopq")
        XCTAssertEqual(try string(#""abcdefghijklmnopq" , "#).get().1, 19)
    }

    func testStringErrorsNameTheirPlace() {
        // Offsets count bytes from 0.
        XCTAssertEqual(error(string(#""abc"#)), JSONTextError(.unterminatedString, at: 0))
        XCTAssertEqual(error(string(#""abc\"#)), JSONTextError(.unterminatedString, at: 0))
        XCTAssertEqual(error(string("\"ab\u{1}c\"")), JSONTextError(.controlCharacterInString, at: 3))
        XCTAssertEqual(error(string("\"abcdefghij\tk\"")), JSONTextError(.controlCharacterInString, at: 11))
        XCTAssertEqual(error(string(#""ab\x""#)), JSONTextError(.invalidEscape, at: 3))
        XCTAssertEqual(error(string(#""\u12G4""#)), JSONTextError(.invalidUnicodeEscape, at: 5))
        XCTAssertEqual(error(string(#""\u12"#)), JSONTextError(.invalidUnicodeEscape, at: 3))
        XCTAssertEqual(error(string(#""\ud83d""#)), JSONTextError(.unpairedHighSurrogate, at: 7))
        XCTAssertEqual(error(string(#""\ud83dx""#)), JSONTextError(.unpairedHighSurrogate, at: 7))
        XCTAssertEqual(error(string(#""\ud83d\u0041""#)), JSONTextError(.invalidLowSurrogate, at: 13))
        XCTAssertEqual(error(string(#""\ude00""#)), JSONTextError(.loneLowSurrogate, at: 7))
        XCTAssertEqual(error(string("x")), JSONTextError(.unexpectedByte(UInt8(ascii: "x")), at: 0))
        XCTAssertEqual(error(string("")), JSONTextError(.unexpectedEnd, at: 0))
    }

    func testRefusesBytesThatAreNotUTF8() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let bytes = [0x20, 0x22] + bad + [0x22]
            let result: JSONTextError? = bytes.withUnsafeBufferPointer { buffer in
                var cursor = JSONCursor(buffer, offset: 1)
                do throws(JSONTextError) { _ = try cursor.scanString(); return nil } catch { return error }
            }
            XCTAssertEqual(result, JSONTextError(.invalidUTF8, at: 1), "\(bad)")
        }
    }

    func testSpansAreNotBuilt() throws {
        let (span, _) = try read(#""a\nb""#) { c throws(JSONTextError) in try c.scanString() }.get()
        XCTAssertEqual(span, JSONStringSpan(start: 1, end: 5, escaped: true, ascii: true))
        let (plain, _) = try read("\"é\"") { c throws(JSONTextError) in try c.scanString() }.get()
        XCTAssertEqual(plain, JSONStringSpan(start: 1, end: 3, escaped: false, ascii: false))
    }

    func number(_ text: String) -> Result<(Double, Int), JSONTextError> { read(text) { c throws(JSONTextError) in try c.readNumber() } }

    func testReadsNumbersAsDoubleOfTheirTextDoes() throws {
        for (text, value) in [("0", 0.0), ("-0", -0.0), ("12", 12), ("-12.25", -12.25), ("1e3", 1000), ("1E+3", 1000),
                              ("25e-2", 0.25), ("0.1", 0.1), ("123456789012345678901234", 1.2345678901234568e23),
                              ("0.000000000000000000000000001", 1e-27), ("9007199254740993", 9_007_199_254_740_992),
                              ("1e400", .infinity), ("-1e400", -.infinity)] {
            XCTAssertEqual(try number(text).get().0, value, text)
            XCTAssertEqual(try number(text).get().0, Double(text), text)
            XCTAssertEqual(try number(text).get().1, text.utf8.count, text)
        }
        XCTAssertEqual(try number("12,").get().1, 2)
    }

    func testRefusesNumbersRFC8259Refuses() {
        for (text, offset) in [("01", 1), ("-01", 2), ("1.", 2), ("1.e3", 2), ("1e", 2), ("1e+", 3), ("-", 1), ("-a", 1), ("12.5ex", 5)] {
            XCTAssertEqual(error(number(text)), JSONTextError(.invalidNumber, at: offset), text)
        }
        XCTAssertEqual(error(number("+1")), JSONTextError(.unexpectedByte(UInt8(ascii: "+")), at: 0))
        XCTAssertEqual(error(number(".5")), JSONTextError(.unexpectedByte(UInt8(ascii: ".")), at: 0))
        XCTAssertEqual(error(number("")), JSONTextError(.unexpectedEnd, at: 0))
    }

    func skip(_ text: String, depth: Int = 64) -> Result<((), Int), JSONTextError> {
        read(text) { c throws(JSONTextError) in try c.skipValue(depth: depth) }
    }

    func testSkipsAWholeValue() throws {
        let text = #" {"a": [1, -2.5e3, "x\"y", true, false, null, {}], "b": {"c": []}} ,"#
        XCTAssertEqual(try skip(text).get().1, text.utf8.count - 2)
        XCTAssertEqual(try skip("null").get().1, 4)
    }

    func testSkipErrorsNameTheirPlace() {
        XCTAssertEqual(error(skip(#"{"a":1,}"#)), JSONTextError(.unexpectedByte(UInt8(ascii: "}")), at: 7))
        XCTAssertEqual(error(skip("[1,]")), JSONTextError(.unexpectedByte(UInt8(ascii: "]")), at: 3))
        XCTAssertEqual(error(skip(#"{"a" 1}"#)), JSONTextError(.unexpectedByte(UInt8(ascii: "1")), at: 5))
        XCTAssertEqual(error(skip(#"{"a":1"#)), JSONTextError(.unexpectedEnd, at: 6))
        XCTAssertEqual(error(skip("[tru]")), JSONTextError(.unexpectedByte(UInt8(ascii: "]")), at: 4))
        XCTAssertEqual(error(skip("nul")), JSONTextError(.unexpectedEnd, at: 3))
        XCTAssertEqual(error(skip("{a:1}")), JSONTextError(.unexpectedByte(UInt8(ascii: "a")), at: 1))
        XCTAssertEqual(error(skip("")), JSONTextError(.unexpectedEnd, at: 0))
        // Two levels allowed: the third bracket is one too deep.
        XCTAssertEqual(try skip("[[1]]", depth: 2).get().1, 5)
        XCTAssertEqual(error(skip("[[[1]]]", depth: 2)), JSONTextError(.tooDeep, at: 2))
    }

    func testDeepNestingNeverExhaustsTheStack() {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertEqual(error(skip(deep, depth: 512)), JSONTextError(.tooDeep, at: 512))
    }

    func testWhitespaceAndLiterals() throws {
        let (taken, offset) = try read(" \t\r\n true") { c throws(JSONTextError) -> Bool in
            c.skipWhitespace()
            return c.take(literal: "true")
        }.get()
        XCTAssertTrue(taken)
        XCTAssertEqual(offset, 9)
        XCTAssertEqual(try read("fals") { c throws(JSONTextError) in c.take(literal: "false") }.get().1, 0)
    }
}
