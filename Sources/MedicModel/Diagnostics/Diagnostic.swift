/// Where a diagnostic points: a file and, when known, a 1-based line and column
/// (columns count Unicode scalars, as libyaml does).
public struct SourceLocation: Sendable, Hashable, Codable, Comparable {
    public var file: String
    public var line: Int?
    public var column: Int?

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The same file and line, `offset` scalars further right (for faults inside a scalar).
    public func advanced(by offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column.map { $0 + offset })
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line ?? 0, a.column ?? 0) < (b.file, b.line ?? 0, b.column ?? 0)
    }

    /// `path:line:col`, omitting what is unknown.
    public var description: String {
        guard let line else { return file }
        guard let column else { return "\(file):\(line)" }
        return "\(file):\(line):\(column)"
    }
}

public enum DiagnosticSeverity: String, Sendable, Codable, Comparable {
    case error, warning, note

    private var rank: Int {
        switch self {
        case .error: 2
        case .warning: 1
        case .note: 0
        }
    }

    public static func < (a: DiagnosticSeverity, b: DiagnosticSeverity) -> Bool { a.rank < b.rank }
}

/// A problem found in the user's files: a plain value, collected and reported together.
/// User mistakes are always diagnostics, never thrown errors.
public struct Diagnostic: Sendable, Hashable, Codable {
    public var severity: DiagnosticSeverity
    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation
    public var hint: String?

    public init(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation, hint: String? = nil,
        severity: DiagnosticSeverity? = nil
    ) {
        self.code = code
        self.message = message
        self.location = location
        self.hint = hint
        self.severity = severity ?? code.defaultSeverity
    }
}

extension Sequence where Element == Diagnostic {
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Diagnostics in reading order: by file, line, column, then code.
    public func sortedForReport() -> [Diagnostic] {
        sorted { a, b in
            if a.location != b.location { return a.location < b.location }
            return a.code.rawValue < b.code.rawValue
        }
    }
}
