extension RunRenderer {
    /// `medic runs --json`: the same bytes as `json(runs)` (`OutputJSON.render`: pretty, keys
    /// sorted, snake_case), written without the encoder, whose three passes (encode, decode into
    /// a tree, encode again) took some 65 µs a run, 0.67 s for 10,000 runs. A run summary has
    /// only strings and lists of strings, so nothing of `OutputJSON`'s shaping applies to it.
    /// `RunListingJSONTests` checks the two agree byte for byte, and that `fields` is
    /// RunSummary's.
    public static func runsJSON(_ runs: [RunSummary]) -> String { String(decoding: runsJSONBytes(runs), as: UTF8.self) }

    /// `runsJSON`'s bytes, to be written out as they are (a listing of 10,000 runs is 4 MB).
    public static func runsJSONBytes(_ runs: [RunSummary]) -> [UInt8] {
        var all: [UInt8] = []
        writeRunsJSON(runs, chunk: .max) { all = $0 }  // one piece: the whole listing
        return all
    }

    /// `runsJSON`'s bytes given to `emit` a piece at a time, each piece some `chunk` bytes (the
    /// last may be shorter; none is empty), in one buffer used again: a listing of 10,000 runs
    /// is written without 4 MB of memory touched for the first time (a page fault every 4 KB).
    /// Stops at the first error `emit` throws.
    public static func writeRunsJSON(_ runs: [RunSummary], chunk: Int = 1 << 16, _ emit: ([UInt8]) throws -> Void) rethrows {
        guard !runs.isEmpty else { return try emit(Array("[\n\n]\n".utf8)) }
        var w = JSONWriter()
        w.bytes.reserveCapacity(min(chunk, runs.count * 480) + 2048)
        let heads = PrettyHeads.shared
        w.bytes.append(contentsOf: heads.open)
        for (index, run) in runs.enumerated() {
            w.bytes.append(contentsOf: index > 0 ? heads.nextObject : heads.firstObject)
            w.prettyList(heads.actions, run.actions)
            if let damage = run.damage { w.prettyField(heads.damage, damage) }
            w.prettyField(heads.id, run.id)
            w.prettyField(heads.journal, run.journal)
            if let outcome = run.outcome { w.prettyField(heads.outcome, outcome.rawValue) }
            w.prettyField(heads.playbookID, run.playbookID)
            w.prettyField(heads.playbookVersion, run.playbookVersion)
            w.prettyField(heads.startedAt, run.startedAt)
            w.prettyField(heads.status, run.status.rawValue)
            w.prettyList(heads.targets, run.targets)
            w.prettyField(heads.updatedAt, run.updatedAt, last: true)
            w.bytes.append(contentsOf: heads.closeObject)
            if w.bytes.count >= chunk {
                try emit(w.bytes)
                w.bytes.removeAll(keepingCapacity: true)
            }
        }
        w.bytes.append(contentsOf: heads.close)
        try emit(w.bytes)
    }

    /// The fields `runsJSON` writes, for the test that keeps it complete.
    static let runsJSONFields: Set<String> = [
        "id", "playbookID", "playbookVersion", "startedAt", "updatedAt", "status", "outcome", "journal", "targets", "actions", "damage",
    ]
}

/// The fixed bytes of `runsJSON`, made once: appending an array's bytes is a copy, where
/// appending a literal's `utf8` went through the generic path a call at a time (some 40
/// calls a run, half of the listing's rendering in a profile).
fileprivate struct PrettyHeads: Sendable {
    static let shared = PrettyHeads()
    let open = Array("[\n".utf8), close = Array("\n]\n".utf8)
    let firstObject = Array("  {\n".utf8), nextObject = Array(",\n  {\n".utf8), closeObject = Array("  }".utf8)
    let firstItem = Array("      ".utf8), nextItem = Array(",\n      ".utf8), closeList = Array("    ],\n".utf8)
    let actions = Self.list("actions"), targets = Self.list("targets")
    let damage = Self.field("damage"), id = Self.field("id"), journal = Self.field("journal"), outcome = Self.field("outcome")
    let playbookID = Self.field("playbook_id"), playbookVersion = Self.field("playbook_version")
    let startedAt = Self.field("started_at"), status = Self.field("status"), updatedAt = Self.field("updated_at")

    /// `    "name" : `, as the encoder pretty-prints a member of an array's object.
    private static func field(_ name: String) -> [UInt8] { Array("    \"\(name)\" : ".utf8) }
    /// `    "name" : [` and a newline.
    private static func list(_ name: String) -> [UInt8] { Array("    \"\(name)\" : [\n".utf8) }
}

extension JSONWriter {
    /// `head` (`    "name" : `), the value, a comma unless `last`, and a newline.
    fileprivate mutating func prettyField(_ head: [UInt8], _ value: String, last: Bool = false) {
        bytes.append(contentsOf: head)
        string(value)
        if !last { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A list of strings after `head` (`    "name" : [` and a newline) as the encoder
    /// pretty-prints it there (an empty one: `[`, a blank line, `]`).
    fileprivate mutating func prettyList(_ head: [UInt8], _ items: [String]) {
        bytes.append(contentsOf: head)
        if items.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        let heads = PrettyHeads.shared
        for (index, item) in items.enumerated() {
            bytes.append(contentsOf: index > 0 ? heads.nextItem : heads.firstItem)
            string(item)
        }
        if !items.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        bytes.append(contentsOf: heads.closeList)
    }
}

extension RunRenderer {
    /// `medic runs`' table written byte by byte when every cell is printable ASCII (one byte, one
    /// character, one column: the same bytes as `paddedTable`, whose `NSString` padding took a
    /// tenth of a listing of 10,000 runs); nil otherwise, and `paddedTable` writes it.
    static func printableTable(_ runs: [RunSummary]) -> String? {
        printableTableBytes(runs).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `list`'s bytes, to be written out as they are.
    public static func listBytes(_ runs: [RunSummary]) -> [UInt8] {
        guard !runs.isEmpty else { return Array("No runs yet.\n".utf8) }
        return printableTableBytes(runs) ?? Array(paddedTable(runs).utf8)
    }

    private static func printableTableBytes(_ runs: [RunSummary]) -> [UInt8]? {
        func printable(_ text: String) -> Bool { text.utf8.allSatisfy { (0x20...0x7E).contains($0) } }
        var widths = (id: 3, status: 6, playbook: 8)  // RUN, STATUS, PLAYBOOK
        for run in runs {
            let status = run.outcome?.rawValue ?? run.status.rawValue
            guard printable(run.id), printable(status), printable(run.playbookID), printable(run.playbookVersion),
                  printable(run.startedAt) else { return nil }
            widths.id = max(widths.id, run.id.utf8.count)
            widths.status = max(widths.status, status.utf8.count)
            widths.playbook = max(widths.playbook, run.playbookID.utf8.count + 1 + run.playbookVersion.utf8.count)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((runs.count + 1) * (widths.id + widths.status + widths.playbook + 32))
        func cell(_ text: String, _ width: Int) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - text.utf8.count + 2))
        }
        cell("RUN", widths.id)
        cell("STATUS", widths.status)
        cell("PLAYBOOK", widths.playbook)
        bytes.append(contentsOf: "STARTED\n".utf8)
        for run in runs {
            cell(run.id, widths.id)
            cell(run.outcome?.rawValue ?? run.status.rawValue, widths.status)
            bytes.append(contentsOf: run.playbookID.utf8)
            bytes.append(UInt8(ascii: " "))
            cell(run.playbookVersion, widths.playbook - run.playbookID.utf8.count - 1)
            bytes.append(contentsOf: run.startedAt.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}
