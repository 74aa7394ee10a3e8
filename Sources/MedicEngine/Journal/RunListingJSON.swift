extension RunRenderer {
    /// `medic runs --json`: the same bytes as `json(runs)` (`OutputJSON.render`: pretty, keys
    /// sorted, snake_case), written without the encoder, whose three passes (encode, decode into
    /// a tree, encode again) took some 65 µs a run, 0.67 s for 10,000 runs. A run summary has
    /// only strings and lists of strings, so nothing of `OutputJSON`'s shaping applies to it.
    /// `RunListingJSONTests` checks the two agree byte for byte, and that `fields` is
    /// RunSummary's.
    public static func runsJSON(_ runs: [RunSummary]) -> String {
        var w = JSONWriter()
        w.bytes.reserveCapacity(64 + runs.count * 480)
        guard !runs.isEmpty else { return "[\n\n]\n" }
        w.bytes.append(contentsOf: "[\n".utf8)
        for (index, run) in runs.enumerated() {
            if index > 0 { w.bytes.append(contentsOf: ",\n".utf8) }
            w.bytes.append(contentsOf: "  {\n".utf8)
            w.prettyList("actions", run.actions)
            if let damage = run.damage { w.prettyField("damage", damage) }
            w.prettyField("id", run.id)
            w.prettyField("journal", run.journal)
            if let outcome = run.outcome { w.prettyField("outcome", outcome.rawValue) }
            w.prettyField("playbook_id", run.playbookID)
            w.prettyField("playbook_version", run.playbookVersion)
            w.prettyField("started_at", run.startedAt)
            w.prettyField("status", run.status.rawValue)
            w.prettyList("targets", run.targets)
            w.prettyField("updated_at", run.updatedAt, last: true)
            w.bytes.append(contentsOf: "  }".utf8)
        }
        w.bytes.append(contentsOf: "\n]\n".utf8)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The fields `runsJSON` writes, for the test that keeps it complete.
    static let runsJSONFields: Set<String> = [
        "id", "playbookID", "playbookVersion", "startedAt", "updatedAt", "status", "outcome", "journal", "targets", "actions", "damage",
    ]
}

extension JSONWriter {
    /// `    "name" : "value",` and a newline, as the encoder pretty-prints a member of an array's object.
    fileprivate mutating func prettyField(_ name: String, _ value: String, last: Bool = false) {
        bytes.append(contentsOf: "    \"".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: "\" : ".utf8)
        string(value)
        bytes.append(contentsOf: (last ? "\n" : ",\n").utf8)
    }

    /// A list of strings as the encoder pretty-prints it there (an empty one: `[`, a blank line, `]`).
    fileprivate mutating func prettyList(_ name: String, _ items: [String]) {
        bytes.append(contentsOf: "    \"".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: "\" : [\n".utf8)
        if items.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(contentsOf: ",\n".utf8) }
            bytes.append(contentsOf: "      ".utf8)
            string(item)
        }
        if !items.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        bytes.append(contentsOf: "    ],\n".utf8)
    }
}
