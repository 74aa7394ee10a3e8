import Foundation
import XCTest

/// Diagnostics through the log (`--log-level`, `--log-format`), failures rendered in one place,
/// and typed options whose bad values are usage errors naming the option.
final class LoggingAndOptionsTests: XCTestCase {
    /// A series with one row that cannot be read (a warning) among rows that score.
    private func series() throws -> String {
        let path = try Medic.temporaryDirectory(self).appendingPathComponent("series.csv").path
        try "timestamp,value\n0,10\n60,ten\n120,12\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func object(_ line: Substring) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
    }

    func testAWarningReadsAsBeforeByDefaultAndIsOneJSONObjectPerLineForMachines() throws {
        let csv = try series()
        let human = try Medic.run(["detect", "--detector", "ewma", "--csv", csv])
        XCTAssertEqual(human.status, 1)
        XCTAssertEqual(human.stderr, "\(csv):3: 'ten' is not a number\n")

        let json = try Medic.run(["detect", "--log-format", "json", "--detector", "ewma", "--csv", csv])
        XCTAssertEqual(json.status, 1)
        XCTAssertEqual(json.stdout, human.stdout, "the command's output is the same in every log format")
        let lines = json.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, json.stderr)
        let event = try Self.object(lines[0])
        XCTAssertEqual(event["level"] as? String, "warning")
        XCTAssertEqual(event["label"] as? String, "medic")
        XCTAssertEqual(event["message"] as? String, "\(csv):3: 'ten' is not a number")
        XCTAssertNotNil(event["metadata"] as? [String: Any])
        let timestamp = try XCTUnwrap(event["timestamp"] as? String)
        XCTAssertNotNil(try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(timestamp), timestamp)
    }

    func testTheLogLevelHidesWhatIsBelowIt() throws {
        let csv = try series()
        let quiet = try Medic.run(["detect", "--detector", "ewma", "--csv", csv, "--log-level", "error"])
        XCTAssertEqual(quiet.status, 1, "the exit status does not depend on what is logged")
        XCTAssertEqual(quiet.stderr, "")
        XCTAssertTrue(quiet.stdout.hasPrefix("timestamp,value,anomaly_score\n"), quiet.stdout)
        XCTAssertEqual(try Medic.run(["detect", "--log-level=warning", "--detector", "ewma", "--csv", csv]).stderr,
                       "\(csv):3: 'ten' is not a number\n")
    }

    func testDebugLinesSayWhatTheStagesDidOnlyWhenAskedFor() throws {
        let plain = try Medic.run(["plan", "disk-space-cleanup-001"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.stderr, "")
        let debug = try Medic.run(["plan", "disk-space-cleanup-001", "--log-level", "debug"])
        XCTAssertEqual(debug.stdout, plain.stdout)
        XCTAssertTrue(debug.stderr.contains("medic: debug: catalog loaded"), debug.stderr)
        let json = try Medic.run(["plan", "disk-space-cleanup-001", "--log-level", "debug", "--log-format", "json"])
        let events = try json.stderr.split(separator: "\n").map(Self.object)
        let gates = try XCTUnwrap(events.first { $0["message"] as? String == "medic: debug: gates evaluated" }, json.stderr)
        XCTAssertEqual(gates["level"] as? String, "debug")
        XCTAssertEqual((gates["metadata"] as? [String: Any])?["playbook"] as? String, "disk-space-cleanup-001")
    }

    func testAFailureIsRenderedOnceThroughTheLogAtLevelError() throws {
        let missing = try Medic.temporaryDirectory(self).appendingPathComponent("missing.csv").path
        let human = try Medic.run(["detect", "--detector", "ewma", "--csv", missing])
        XCTAssertEqual(human.status, 1)
        XCTAssertEqual(human.stderr, "\(missing): cannot open the file (does it exist, and is it readable?)\n")
        let json = try Medic.run(["detect", "--detector", "ewma", "--csv", missing, "--log-format", "json"])
        XCTAssertEqual(json.status, 1)
        let event = try Self.object(try XCTUnwrap(json.stderr.split(separator: "\n").first))
        XCTAssertEqual(event["level"] as? String, "error")
        XCTAssertEqual(event["message"] as? String, "\(missing): cannot open the file (does it exist, and is it readable?)")
    }

    func testBadLoggingOptionsAreUsageErrorsNamingTheOption() throws {
        let level = try Medic.run(["list", "--log-level", "loud"])
        XCTAssertEqual(level.status, 2)
        XCTAssertTrue(level.stderr.contains("'--log-level'") && level.stderr.contains("'loud'"), level.stderr)
        let format = try Medic.run(["list", "--log-format=xml"])
        XCTAssertEqual(format.status, 2)
        XCTAssertTrue(format.stderr.contains("'--log-format'") && format.stderr.contains("'xml'"), format.stderr)
        let missing = try Medic.run(["list", "--log-level"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--log-level"), missing.stderr)
        let environment = try run(["list"], environment: ["MEDIC_LOG_FORMAT": "xml"])
        XCTAssertEqual(environment.status, 2)
        XCTAssertTrue(environment.stderr.contains("MEDIC_LOG_FORMAT"), environment.stderr)
    }

    func testTheLogFormatCanComeFromTheEnvironment() throws {
        let csv = try series()
        let run = try run(["detect", "--detector", "ewma", "--csv", csv], environment: ["MEDIC_LOG_FORMAT": "json"])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(try Self.object(try XCTUnwrap(run.stderr.split(separator: "\n").first))["level"] as? String, "warning")
    }

    func testDurationsAndFormatsAreTypedOptions() throws {
        let dir = try Medic.temporaryDirectory(self)
        for (arguments, option) in [
            (["watch", "--interval", "soon"], "--interval"),
            (["watch", "--interval", "-5s"], "--interval"),
            (["watch", "--health-interval", "hourly"], "--health-interval"),
            (["watch", "--input", "feed.txt", "--format", "xml"], "--format"),
            (["backtest", "rules.yaml", "data.csv", "--resolve-after", "later"], "--resolve-after"),
            (["backtest", "rules.yaml", "data.txt", "--format", "xml"], "--format"),
        ] {
            let run = try Medic.run(arguments, in: dir)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(option), "\(arguments): \(run.stderr)")
        }
    }

    /// Runs medic with extra environment variables.
    private func run(_ arguments: [String], environment: [String: String]) throws -> MedicRun {
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = try Medic.temporaryDirectory(self)
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return MedicRun(status: process.terminationStatus, stdout: stdout, stderr: stderr, seconds: 0)
    }
}
