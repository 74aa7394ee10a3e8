import Foundation
import XCTest

/// Every hostile input through the binary: one diagnostic, exit 1, no crash, no hang.
/// The hang guard is generous (a slow CI machine); `MedicBench hostile` measures the real time.
final class HostileInputCLITests: XCTestCase {
    private func check(_ name: String, _ bytes: [UInt8], code: String, extra: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try Medic.temporaryDirectory(self)
        let path = dir.appendingPathComponent(name)
        XCTAssertTrue(FileManager.default.createFile(atPath: path.path, contents: Data(bytes)))
        let run = try Medic.run(["validate", "--format", "json"] + extra + [path.path], timeout: 30, file: file, line: line)
        XCTAssertEqual(run.status, 1, "\(name): \(run.stderr)", file: file, line: line)
        let diagnostics = try XCTUnwrap(try Medic.json(run.stdout)["diagnostics"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(diagnostics.map { $0["code"] as? String }, [code], "\(name): \(run.stdout)", file: file, line: line)
        XCTAssertTrue(run.stderr.isEmpty, "\(name) wrote to stderr: \(run.stderr)", file: file, line: line)
    }

    private static func aliasLayers(_ last: String) -> String {
        var lines = [#"a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]"#]
        for i in 1..<10 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        lines.append(last)
        return lines.joined(separator: "\n") + "\n"
    }

    func testAliasBomb() throws {
        try check("bomb.yaml", Array(Self.aliasLayers("playbook_id: *a9").utf8), code: "M009")
        try check("keybomb.yaml", Array(Self.aliasLayers("? *a9\n: 1").utf8), code: "M009")
    }

    func testNestingDeeperThan64() throws {
        try check("deep.yaml", Array(("a: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), code: "M008")
        try check("deep-200.yaml", Array(("a: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)).utf8), code: "M008")
        try check("deep.json", Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), code: "M008")
        let block = (0..<300).map { String(repeating: " ", count: $0) + "k:\n" }.joined() + String(repeating: " ", count: 300) + "v: 1\n"
        try check("deep-block.yaml", Array(block.utf8), code: "M008")
    }

    func testTenMegabyteScalar() throws {
        let scalar = "playbook_id: '" + String(repeating: "x", count: 10 << 20) + "'\n"
        try check("big-scalar.yaml", Array(scalar.utf8), code: "M010", extra: ["--max-file-size", "16MiB"])
        try check("big-default-limit.yaml", Array(scalar.utf8), code: "M002")
    }

    func testFileOverAConfiguredLimit() throws {
        try check("limit.yaml", Array("playbook_id: x\nname: y\n".utf8), code: "M002", extra: ["--max-file-size", "10"])
    }

    func testNULBytesInvalidUTF8AndEmptyFiles() throws {
        try check("nul.yaml", Array("playbook_id: a".utf8) + [0] + Array("b\n".utf8), code: "M005")
        try check("latin1.yaml", Array("playbook_id: caf".utf8) + [0xE9, 0x0A], code: "M004")
        try check("empty.yaml", [], code: "M003")
        try check("empty.json", [], code: "M003")
    }

    func testForeignTagsMergeKeysAndTrailingCommas() throws {
        try check("python.yaml", Array("playbook_id: !!python/object/apply:os.system ['echo hi']\n".utf8), code: "M011")
        try check("merge.yaml", Array("base: &b {name: x}\nplaybook_id: p\n<<: *b\n".utf8), code: "M012")
        try check("comma.json", Array(#"{"playbook_id": "x",}"#.utf8), code: "M007")
    }
}
