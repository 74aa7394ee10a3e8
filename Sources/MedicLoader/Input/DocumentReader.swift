import MedicModel

/// Turns a file's bytes into one `SourceNode` tree, or diagnostics saying why it cannot.
/// Stage one of loading: only this stage knows about bytes, encodings, YAML and JSON syntax.
public struct DocumentReader: Sendable {
    public var limits: InputLimits

    public init(limits: InputLimits = .default) { self.limits = limits }

    public enum Syntax: Sendable { case yaml, json }

    public static func syntax(forPath path: String) -> Syntax {
        path.lowercased().hasSuffix(".json") ? .json : .yaml
    }

    /// Reads a document. Never throws for bad input: every fault is a diagnostic.
    public func read(bytes: [UInt8], path: String) -> (SourceNode?, [Diagnostic]) {
        // Faults of the whole file are placed at its start, so editors and SARIF viewers can show them.
        let file = SourceLocation(file: path, line: 1, column: 1)
        if bytes.count > limits.maxFileSize {
            return (nil, [Diagnostic(.fileTooLarge,
                                     "file is \(bytes.count) bytes, over the limit of \(limits.maxFileSize) bytes",
                                     at: file, hint: "split it into smaller files, or raise the limit with --max-file-size")])
        }
        if let nul = bytes.firstIndex(of: 0) {
            return (nil, [Diagnostic(.nulByte, "NUL byte at byte offset \(nul)", at: Self.location(ofByte: nul, in: bytes, file: path),
                                     hint: "the file looks binary; Medic reads UTF-8 text")])
        }
        if let bad = Self.firstInvalidUTF8(bytes) {
            return (nil, [Diagnostic(.invalidUTF8, "invalid UTF-8 at byte offset \(bad)",
                                     at: Self.location(ofByte: bad, in: bytes, file: path),
                                     hint: "save the file as UTF-8")])
        }
        switch Self.syntax(forPath: path) {
        case .json:
            var body = bytes[...]
            if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }  // UTF-8 byte order mark
            let text = String(decoding: body, as: UTF8.self)
            if text.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
                return (nil, [Diagnostic(.emptyFile, "the file is empty", at: file, hint: "write a JSON object")])
            }
            var parser = JSONDocumentParser(text: text, file: path, limits: limits)
            return parser.parse()
        case .yaml:
            return YAMLDocumentParser(bytes: bytes, file: path, limits: limits).parse()
        }
    }

    /// The 1-based line and column (in Unicode scalars) of a byte offset.
    static func location(ofByte offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1, column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        UTF8Validation.firstInvalidByte(in: bytes)
    }
}
