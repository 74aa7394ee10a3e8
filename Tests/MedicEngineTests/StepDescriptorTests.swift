import Foundation
import MedicEngine
import XCTest

/// A step gets standard input, output and error and no other descriptor of Medic's, even one
/// Medic inherited without close-on-exec: a pipe whose reader waits for EOF (the process that
/// started Medic) would otherwise stay open as long as the step's slowest descendant.
final class StepDescriptorTests: XCTestCase {
    func testAStepInheritsNoDescriptorBeyondItsStandardStreams() throws {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)  // pipe(2): not close-on-exec
        defer { close(ends[0]); close(ends[1]) }
        XCTAssertEqual(fcntl(ends[1], F_GETFD) & FD_CLOEXEC, 0, "the test's descriptor is inheritable to begin with")
        let result = try ShellExecutor.run(ShellCommand(script: "ls /proc/$$/fd", timeout: 10))
        XCTAssertTrue(result.succeeded, result.stderr)
        let open = Set(result.stdout.split(separator: "\n").compactMap { Int32($0) })
        XCTAssertTrue(open.isSuperset(of: [0, 1, 2]), "\(open)")
        XCTAssertFalse(open.contains(ends[0]) || open.contains(ends[1]), "the step holds Medic's pipe: \(open) ∋ \(ends)")
    }
}
