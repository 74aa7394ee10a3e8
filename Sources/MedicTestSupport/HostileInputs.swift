/// Documents built to crash, hang or exhaust a loader (foundation issue, "Hostile input"), shared
/// by the loader tests, the CLI tests and `MedicBench hostile`, so all three exercise the same bytes.
public enum HostileDocuments {
    /// Ten layers of ten aliases: 10^10 nodes once expanded.
    public static func aliasLayers(then last: String) -> String {
        var lines = [#"a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]"#]
        for i in 1..<10 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        lines.append(last)
        return lines.joined(separator: "\n") + "\n"
    }

    public static var aliasBomb: String { aliasLayers(then: "playbook_id: *a9") }
    /// The bomb used as a mapping key, where hashing the key would expand it.
    public static var aliasKeyBomb: String { aliasLayers(then: "? *a9\n: 1") }

    public static func deepFlow(levels: Int, json: Bool = false) -> String {
        let body = String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
        return json ? "{\"a\": \(body)}" : "a: \(body)\n"
    }

    public static func deepBlock(levels: Int) -> String {
        (0..<levels).map { String(repeating: "  ", count: $0) + "k\($0):\n" }.joined() + String(repeating: "  ", count: levels) + "v: 1\n"
    }

    public static func hugeScalar(bytes: Int, json: Bool = false) -> String {
        let value = String(repeating: "x", count: bytes)
        return json ? "{\"playbook_id\": \"\(value)\"}" : "playbook_id: '\(value)'\n"
    }
}

/// One hostile file and the one diagnostic code it must produce.
public struct HostileInput: Sendable {
    public var name: String
    public var bytes: [UInt8]
    public var code: String
    /// Extra `medic validate` arguments (a raised size limit, to reach the scalar check).
    public var arguments: [String]

    public init(_ name: String, _ text: String, code: String, arguments: [String] = []) {
        self.init(name, Array(text.utf8), code: code, arguments: arguments)
    }

    public init(_ name: String, _ bytes: [UInt8], code: String, arguments: [String] = []) {
        self.name = name
        self.bytes = bytes
        self.code = code
        self.arguments = arguments
    }

    /// Every hostile input the foundation issue names, as files for the `medic` binary.
    public static var all: [HostileInput] {
        [
            HostileInput("alias-bomb.yaml", HostileDocuments.aliasBomb, code: "M009"),
            HostileInput("alias-key-bomb.yaml", HostileDocuments.aliasKeyBomb, code: "M009"),
            HostileInput("nesting-100k.yaml", HostileDocuments.deepFlow(levels: 100_000), code: "M008"),
            HostileInput("nesting-200.yaml", HostileDocuments.deepFlow(levels: 200), code: "M008"),
            HostileInput("nesting-100k.json", HostileDocuments.deepFlow(levels: 100_000, json: true), code: "M008"),
            HostileInput("nesting-block-300.yaml", HostileDocuments.deepBlock(levels: 300), code: "M008"),
            HostileInput("scalar-10MB.yaml", HostileDocuments.hugeScalar(bytes: 10 << 20), code: "M010", arguments: ["--max-file-size", "16MiB"]),
            HostileInput("over-size-limit.yaml", HostileDocuments.hugeScalar(bytes: 10 << 20), code: "M002"),
            HostileInput("configured-limit.yaml", "playbook_id: x\nname: y\n", code: "M002", arguments: ["--max-file-size", "10"]),
            HostileInput("nul.yaml", Array("playbook_id: a".utf8) + [0] + Array("b\n".utf8), code: "M005"),
            HostileInput("invalid-utf8.yaml", Array("playbook_id: caf".utf8) + [0xE9, 0x0A], code: "M004"),
            HostileInput("empty.yaml", [UInt8](), code: "M003"),
            HostileInput("empty.json", [UInt8](), code: "M003"),
            HostileInput("python-tag.yaml", "playbook_id: !!python/object/apply:os.system ['echo hi']\n", code: "M011"),
            HostileInput("merge-key.yaml", "base: &b {name: x}\nplaybook_id: p\n<<: *b\n", code: "M012"),
            HostileInput("trailing-comma.json", #"{"playbook_id": "x",}"#, code: "M007"),
        ]
    }
}
