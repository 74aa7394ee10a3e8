/// What identifies a fault for the immune memory (seed-systems §1): its type, the components it
/// affected and a pattern string such as `network-partition:storage:3-nodes`.
///
/// `components` are kept sorted and without duplicates (a set: the order they were reported in
/// and repeats do not change the fault). `id` is the SHA-256 (lowercase hex) of the three fields
/// framed so that no two different signatures share a message: each field as a netstring,
/// `<UTF-8 byte count>:<bytes>,`, in the order fault type, number of components (decimal),
/// each component, pattern. So `("a", ["b,c"], "d")` and `("a", ["b", "c"], "d")` differ.
public struct FaultSignature: Sendable, Hashable, Codable {
    public let faultType: String
    public let components: [String]
    public let pattern: String
    public let id: String

    public init(faultType: String, components: [String], pattern: String) {
        self.faultType = faultType
        self.components = Array(Set(components)).sorted()
        self.pattern = pattern
        self.id = Self.id(faultType: faultType, components: self.components, pattern: pattern)
    }

    /// The pattern without its last `:`-segment (`network-partition:storage` for
    /// `network-partition:storage:3-nodes`); nil when the pattern has no `:`, so a one-segment
    /// pattern never matches every other pattern by an empty prefix.
    public var patternPrefix: String? {
        guard let colon = pattern.lastIndex(of: ":") else { return nil }
        return String(pattern[..<colon])
    }

    /// The share of affected components two signatures have in common:
    /// |A ∩ B| / max(|A|, |B|) (0 when both are empty). Unlike Jaccard it does not punish a
    /// signature for the components the other one lacks twice: 3 shared of 5 and 5 is 0.6.
    public func componentOverlap(with other: FaultSignature) -> Double {
        let larger = max(components.count, other.components.count)
        guard larger > 0 else { return 0 }
        return Double(sharedComponents(with: other)) / Double(larger)
    }

    /// Whether the overlap is at least `numerator / denominator`, decided in integers so the
    /// 60% boundary is exact (3 of 5 is in, whatever 0.6 is in binary).
    func overlapReaches(_ numerator: Int, of denominator: Int, with other: FaultSignature) -> Bool {
        let larger = max(components.count, other.components.count)
        guard larger > 0 else { return false }
        return sharedComponents(with: other) * denominator >= numerator * larger
    }

    private func sharedComponents(with other: FaultSignature) -> Int {
        Set(components).intersection(other.components).count
    }

    static func id(faultType: String, components: [String], pattern: String) -> String {
        func netstring(_ text: String) -> [UInt8] { Array("\(text.utf8.count):".utf8) + Array(text.utf8) + [UInt8(ascii: ",")] }
        var message = netstring(faultType) + netstring(String(components.count))
        for component in components { message += netstring(component) }
        message += netstring(pattern)
        return SHA256Hex.of(message)
    }

    private enum CodingKeys: String, CodingKey {
        case faultType = "fault_type", components, pattern, id
    }

    /// Decodes the three fields and recomputes the id; a stored id that differs is refused (the
    /// document was edited by hand or is corrupt).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(faultType: try container.decode(String.self, forKey: .faultType),
                  components: try container.decode([String].self, forKey: .components),
                  pattern: try container.decode(String.self, forKey: .pattern))
        let stored = try container.decode(String.self, forKey: .id)
        guard stored == id else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container,
                                                   debugDescription: "signature id \(stored) is not the SHA-256 of its fields (\(id))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(faultType, forKey: .faultType)
        try container.encode(components, forKey: .components)
        try container.encode(pattern, forKey: .pattern)
        try container.encode(id, forKey: .id)
    }
}
