import MedicModel

/// What one file contributed to a catalog.
public struct LoadedFile: Sendable {
    public var path: String
    public var kind: FileKind?
    public var playbook: Playbook?
    public var actions: [Action] = []
    public var rules: [AnomalyRule] = []
    public var policies = Policies()
    public var diagnostics: [Diagnostic] = []
    /// Read only so that references resolve (library context), not asked to be checked.
    public var isContext = false
}

/// Stage two of loading: one document tree -> typed values of its kind.
enum FileDecoder {
    static func kind(of root: SourceNode, context: DecodeContext) -> FileKind? {
        guard let pairs = root.mapping else {
            context.report(.unknownFileKind, "the document is \(root.kindDescription), not a mapping", at: root.location,
                           hint: "a Medic file is a mapping with playbook_id, actions, rules or policy blocks at the top")
            return nil
        }
        if let kindPair = pairs.first(where: { $0.key == "kind" }) {
            return context.enumValue(kindPair.value, "'kind'", FileKind.self)
        }
        let keys = Set(pairs.map(\.key))
        if keys.contains("playbook_id") { return .playbook }
        if keys.contains("actions") { return .actions }
        if keys.contains("rules") { return .rules }
        if !keys.isDisjoint(with: PolicyDecoder.blocks) { return .policies }
        let known = ["playbook_id", "actions", "rules"] + PolicyDecoder.blocks
        let guess = pairs.lazy.compactMap { Spelling.suggestion(for: $0.key, among: known) }.first
        context.report(.unknownFileKind, "cannot tell what kind of file this is from its top-level keys", at: root.location,
                       hint: guess.map { "did you mean '\($0)'?" }
                           ?? "a playbook has playbook_id; an action library has actions; rules have rules; policies have blocks such as severity_levels")
        return nil
    }

    static func decode(_ root: SourceNode, path: String, source: [UInt8]) -> LoadedFile {
        let context = DecodeContext(file: path, source: source)
        var loaded = LoadedFile(path: path)
        loaded.kind = kind(of: root, context: context)
        switch loaded.kind {
        case .playbook: loaded.playbook = PlaybookDecoder(context: context).decode(root)
        case .actions: loaded.actions = ActionDecoder(context: context).decode(root)
        case .rules: loaded.rules = RuleDecoder(context: context).decode(root)
        case .policies: loaded.policies = PolicyDecoder(context: context).decode(root)
        case nil: break
        }
        loaded.diagnostics = context.diagnostics
        return loaded
    }
}
