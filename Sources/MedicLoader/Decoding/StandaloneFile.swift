import Foundation
import MedicModel

/// A file read on its own rather than as part of the library (the metric sources file, an
/// inventory): opened, size-limited, parsed with the same guards as every file, and decoded.
enum StandaloneFile {
    /// Never throws: every fault is a located diagnostic, and the value is nil when there is any
    /// error (a half-read file is never used).
    /// `prepare` sees the bytes before they are parsed (a kind that reads a shorthand YAML
    /// cannot, as the health checks file reads `>100MB`).
    static func load<Value>(path: String, limits: InputLimits, prepare: ([UInt8]) -> [UInt8] = { $0 },
                            decode: (SourceNode, DecodeContext) -> Value?) -> (Value?, [Diagnostic]) {
        let location = SourceLocation(file: path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return (nil, [Diagnostic(.fileUnreadable, "cannot open the file", at: location, hint: "check that it exists and is readable")])
        }
        defer { try? handle.close() }
        let data: Data?
        do {
            // One byte past the limit, so that the reader reports a file that is too large.
            data = try handle.read(upToCount: limits.maxFileSize + 1)
        } catch {
            return (nil, [Diagnostic(.fileUnreadable, "cannot read the file: \(error.localizedDescription)", at: location,
                                     hint: "is it a directory or a device?")])
        }
        let bytes = prepare(data.map { [UInt8]($0) } ?? [])
        let (root, readDiagnostics) = DocumentReader(limits: limits).read(bytes: bytes, path: path)
        guard let root else { return (nil, readDiagnostics) }
        let context = DecodeContext(file: path, source: bytes)
        let value = decode(root, context)
        let diagnostics = readDiagnostics + context.diagnostics
        guard let value, !diagnostics.hasErrors else { return (nil, diagnostics) }
        return (value, diagnostics)
    }
}
