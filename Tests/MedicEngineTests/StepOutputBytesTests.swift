import Foundation
import MedicEngine
import XCTest

/// Outputs a step writes to `$MEDIC_OUTPUT` pass unchanged or not at all: bytes that are not
/// UTF-8 fail the attempt with the line named, instead of vanishing or becoming U+FFFD.
final class StepOutputBytesTests: XCTestCase {
    func testOutputsThatAreNotUTF8FailTheAttemptAndNameTheLine() throws {
        let result = try ShellExecutor.run(ShellCommand(script: #"printf 'size=12\nword=caf\351\n' > "$MEDIC_OUTPUT""#, timeout: 10))
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.outputs, [:])
        XCTAssertEqual(result.outputProblem, "line 2 of $MEDIC_OUTPUT is not UTF-8; no output of this step was taken")
    }

    func testUTF8OutputsPassUnchanged() throws {
        let result = try ShellExecutor.run(ShellCommand(script: #"printf 'word=café ☕\n' > "$MEDIC_OUTPUT""#, timeout: 10))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(result.outputs, ["word": "café ☕"])
    }
}
