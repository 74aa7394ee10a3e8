/// Bounds that keep hostile input from crashing, hanging or exhausting Medic.
public struct InputLimits: Sendable, Equatable {
    /// Largest file read, in bytes (default 4 MiB; `--max-file-size`).
    public var maxFileSize: Int
    /// Deepest nesting of mappings and lists.
    public var maxDepth: Int
    /// Longest single scalar, in bytes.
    public var maxScalarLength: Int
    /// Most nodes a document may expand to once aliases are followed.
    public var maxNodes: Int

    public init(maxFileSize: Int = 4 << 20, maxDepth: Int = 64, maxScalarLength: Int = 1 << 20, maxNodes: Int = 250_000) {
        self.maxFileSize = maxFileSize
        self.maxDepth = maxDepth
        self.maxScalarLength = maxScalarLength
        self.maxNodes = maxNodes
    }

    public static let `default` = InputLimits()
}
