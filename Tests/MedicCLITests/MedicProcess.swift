import Foundation
import XCTest

/// Runs the built `medic` binary as a real process, with a hang guard.
struct MedicRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
}

enum Medic {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/MedicLoaderTests/Fixtures")

    /// `swift test` runs the test bundle from the build products folder, beside the `medic` binary.
    static var binary: URL {
        let products = Bundle.main.bundleURL
        let candidate = products.appendingPathComponent("medic")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle(for: Marker.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
    }

    private final class Marker {}

    /// Runs medic with `arguments`; fails the test if it has not finished after `timeout` seconds.
    /// `fileSizeLimit`: bytes any file medic writes may reach (RLIMIT_FSIZE, as a full disk would stop it).
    /// `environment`: variables set for medic on top of the test's own environment.
    static func run(_ arguments: [String], in directory: URL? = nil, timeout: Double = 60, fileSizeLimit: Int? = nil,
                    environment: [String: String] = [:],
                    file: StaticString = #filePath, line: UInt = #line) throws -> MedicRun {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("medic-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = binary
        if fileSizeLimit != nil {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        }
        // The fixtures are checked on their own: with no --root, the folder holding them is the root
        // (it has no playbooks/ actions/ ...), so the shipped library is not read as context.
        var arguments = arguments
        if arguments.first == "validate" && !arguments.contains("--root") {
            arguments.insert(contentsOf: ["--root", fixtures.path], at: 1)
        }
        process.arguments = arguments
        if let fileSizeLimit {
            let limit = "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (\(fileSizeLimit), \(fileSizeLimit))); os.execv(sys.argv[1], sys.argv[1:])"
            process.arguments = ["python3", "-c", limit, binary.path] + arguments
        }
        process.currentDirectoryURL = directory ?? repositoryRoot
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            XCTFail("medic \(arguments.joined(separator: " ")) did not finish within \(timeout) s", file: file, line: line)
            finished.wait()
        }
        return MedicRun(status: process.terminationStatus,
                        stdout: try String(contentsOf: out, encoding: .utf8),
                        stderr: try String(contentsOf: err, encoding: .utf8),
                        seconds: Date().timeIntervalSince(start))
    }

    /// A fresh temporary directory, removed when the test ends.
    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    static func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any])
    }
}
