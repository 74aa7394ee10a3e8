import MedicModel

/// What to say after "no playbook 'x'": the close spelling, else the names that share its words
/// (`disk-cleanup-001` → `disk-space-cleanup-001`), else the names there are.
enum NameHint {
    static func hint(for name: String, among candidates: [String], listedBy command: String) -> String {
        if let close = Spelling.suggestion(for: name, among: candidates) { return " (did you mean '\(close)'?)" }
        let words = Self.words(name)
        if !words.isEmpty {
            let sharing = candidates.filter { words.isSubset(of: Self.words($0)) }.sorted()
            if !sharing.isEmpty {
                return " (did you mean " + sharing.prefix(3).map { "'\($0)'" }.joined(separator: " or ") + "?)"
            }
        }
        guard !candidates.isEmpty else { return "; there is none (\(command) lists what is loaded)" }
        let shown = candidates.sorted().prefix(8)
        return "; known: " + shown.joined(separator: ", ") + (candidates.count > shown.count ? ", ..." : "")
            + " (\(command) lists them all)"
    }

    /// The lowercased words of a name, without numbers: `disk-space-cleanup-001` → disk, space, cleanup.
    private static func words(_ name: String) -> Set<String> {
        Set(name.lowercased().split { !$0.isLetter }.map(String.init).filter { $0.count >= 2 })
    }
}
