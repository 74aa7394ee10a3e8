import Foundation
import MedicTestSupport
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

    /// Every input of the shared table (MedicTestSupport), one process each.
    func testEveryHostileInputGivesItsOneDiagnostic() throws {
        for input in HostileInput.all {
            try check(input.name, input.bytes, code: input.code, extra: input.arguments)
        }
    }
}
