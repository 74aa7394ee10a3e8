import Foundation
import MedicEngine
import XCTest

final class ShellExecutorTests: XCTestCase {
    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-shell-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// Process ids whose session is `sid`, from /proc (the step's session is the shell's pid).
    private func processes(inSession sid: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            // Fields after "comm)": state ppid pgrp session ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && Int32(fields[3]) == sid
        }
    }

    /// Once an engine's steps are being stopped (a signal), no new step of that engine starts:
    /// a step spawned after the stop collected the running groups would outlive Medic.
    func testNoStepStartsAfterItsEngineIsStopped() throws {
        let steps = RunningSteps(), other = RunningSteps()
        steps.stop(grace: 0)
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stopped-\(UUID().uuidString)").path
        defer { unlink(marker) }
        XCTAssertThrowsError(try ShellExecutor.run(ShellCommand(script: "touch \"$MARK\"", parameters: ["MARK": marker]), running: steps)) {
            XCTAssertTrue("\($0)".contains("stopping"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the step ran after its engine was stopped")
        // Another engine's steps are not affected.
        XCTAssertEqual(try ShellExecutor.run(ShellCommand(script: "touch \"$MARK\"", parameters: ["MARK": marker]), running: other).exitStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker))
    }

    func testParametersAreEnvironmentNeverCode() throws {
        let dir = try scratch()
        let marker = dir.appendingPathComponent("pwned").path
        for value in ["x; touch \(marker)", "$(touch \(marker))", "`touch \(marker)`", "a\ntouch \(marker)", "'; touch \(marker); '"] {
            let result = try ShellExecutor.run(ShellCommand(script: #"printf '%s' "${value}""#, parameters: ["value": value]))
            XCTAssertTrue(result.succeeded, result.stderr)
            XCTAssertEqual(result.stdout, value, "the value arrives as it was given")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "'\(value)' ran as code")
        }
    }

    func testOnlyAllowedVariablesAreInherited() throws {
        setenv("MEDIC_TEST_SECRET", "hunter2", 1)
        defer { unsetenv("MEDIC_TEST_SECRET") }
        let result = try ShellExecutor.run(ShellCommand(script: #"printf '%s|%s' "${MEDIC_TEST_SECRET:-absent}" "${PATH:+path}""#))
        XCTAssertEqual(result.stdout, "absent|path")
    }

    func testExitStatusOutputAndStepOutputs() throws {
        let result = try ShellExecutor.run(ShellCommand(script: """
            echo "original_replicas=3" >> "$MEDIC_OUTPUT"
            echo "not a pair" >> "$MEDIC_OUTPUT"
            echo out; echo err >&2
            exit 7
            """))
        XCTAssertEqual(result.exitStatus, 7)
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.stdout, "out\n")
        XCTAssertEqual(result.stderr, "err\n")
        XCTAssertEqual(result.outputs, ["original_replicas": "3"])
    }

    func testOutputKeepsTheLast64KiB() throws {
        let result = try ShellExecutor.run(ShellCommand(script: "i=0; while [ $i -lt 3000 ]; do echo \"line $i of a long output of a step\"; i=$((i+1)); done"))
        XCTAssertTrue(result.succeeded)
        XCTAssertTrue(result.stdoutTruncated)
        XCTAssertEqual(result.stdout.utf8.count, 64 << 10)
        XCTAssertTrue(result.stdout.hasSuffix("line 2999 of a long output of a step\n"))
    }

    func testWorkingDirectoryIsAnArgumentNotScript() throws {
        let dir = try scratch()
        let odd = dir.appendingPathComponent("a dir; $(touch x)")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        let result = try ShellExecutor.run(ShellCommand(script: "pwd", workingDirectory: odd.path))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertEqual(result.stdout, odd.path + "\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path))
    }

    /// The issue's trap: a shell that ignores TERM and a grandchild that outlives it.
    func testTimeoutEndsTheWholeSessionEvenWhenTERMIsIgnored() throws {
        let start = Date()
        let result = try ShellExecutor.run(ShellCommand(script: #"echo $$; trap "" TERM; (sleep 600 &); sleep 600"#,
                                                        timeout: 2, gracePeriod: 1))
        XCTAssertTrue(result.timedOut)
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.signal, SIGKILL)
        XCTAssertLessThan(Date().timeIntervalSince(start), 60, "returned instead of waiting for the sleepers")
        let sid = try XCTUnwrap(Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        // SIGKILL is delivered at once, but let the kernel finish tearing the processes down.
        var left = processes(inSession: sid)
        for _ in 0..<50 where !left.isEmpty {
            usleep(100_000)
            left = processes(inSession: sid)
        }
        XCTAssertEqual(left, [], "processes of the step's session survived")
    }

    func testAGrandchildHoldingStdoutOpenDoesNotHoldTheStep() throws {
        let start = Date()
        let result = try ShellExecutor.run(ShellCommand(script: #"echo $$; (sleep 600 &); echo done"#, timeout: 60))
        XCTAssertTrue(result.succeeded, result.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertTrue(result.stdout.hasSuffix("done\n"), result.stdout)
        let sid = try XCTUnwrap(Int32(result.stdout.split(separator: "\n").first ?? ""))
        var left = processes(inSession: sid)
        for _ in 0..<50 where !left.isEmpty {
            usleep(100_000)
            left = processes(inSession: sid)
        }
        XCTAssertEqual(left, [], "the step's leftover processes are ended with it")
    }
}
