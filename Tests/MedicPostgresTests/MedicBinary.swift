import Foundation

/// The built `medic` as a real process (`swift test` runs the test bundle from the build
/// products folder, beside it).
enum MedicBinary {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static var url: URL {
        let candidate = Bundle.main.bundleURL.appendingPathComponent("medic")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle(for: Marker.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
    }

    private final class Marker {}

    /// Runs `medic ARGUMENTS` to its end; `environment` adds (a value) or removes (nil) variables.
    static func run(_ arguments: [String], environment: [String: String?] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        process.environment = variables
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medic-bin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
