import MedicModel
import Yams

/// YAML text -> `SourceNode`, through Yams (libyaml), with the guards Yams lacks:
/// aliases may not be keys (hashing an expanded key is exponential), expansion is budgeted,
/// nesting, scalar length and tags are bounded, merge keys are refused.
struct YAMLDocumentParser {
    let text: String
    let file: String
    let limits: InputLimits

    /// Tags a file may carry: the YAML core ones. Anything else (`!!python/object/apply`, `!Ref`)
    /// is refused, since a tag asks a loader to construct something.
    static let allowedTags: Set<String> = [
        "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", "!", "?", "",
    ]

    func parse() -> (SourceNode?, [Diagnostic]) {
        if let aliasKey = AliasKeyScan.firstAliasKey(in: text) {
            return (nil, [Diagnostic(.aliasExpansion, "an alias is used as a mapping key",
                                     at: SourceLocation(file: file, line: aliasKey.line, column: aliasKey.column),
                                     hint: "write the key out; Medic files need no anchors in keys")])
        }
        let root: Node
        do {
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            guard let first = try parser.nextRoot() else {
                return (nil, [Diagnostic(.emptyFile, "the file holds no YAML document", at: SourceLocation(file: file),
                                         hint: "an empty file is not a playbook; delete it or write the document")])
            }
            if let second = try parser.nextRoot() {
                return (nil, [Diagnostic(.multipleDocuments, "a second YAML document starts here",
                                         at: location(second.mark), hint: "put one document per file")])
            }
            root = first
        } catch let error as YamlError {
            return (nil, [diagnostic(for: error)])
        } catch {
            return (nil, [Diagnostic(.yamlSyntax, "\(error)", at: SourceLocation(file: file))])
        }
        var walker = Walker(file: file, limits: limits)
        let node = walker.convert(root, depth: 1)
        return (walker.diagnostics.isEmpty ? node : nil, walker.diagnostics)
    }

    private func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line, column: mark?.column)
    }

    private func diagnostic(for error: YamlError) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let where_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            if problem.contains("Maximum nesting level") {
                return Diagnostic(.nestingTooDeep, "nesting deeper than YAML's limit", at: location(mark),
                                  hint: "Medic files nest at most \(limits.maxDepth) levels")
            }
            return Diagnostic(.yamlSyntax, "\(problem)\(where_)", at: location(mark), hint: Self.syntaxHint(problem))
        case .reader(let problem, _, _, _):
            return Diagnostic(.yamlSyntax, problem, at: location(nil))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return Diagnostic(.duplicateKey, "duplicate key \(keys) in one mapping", at: location(context.mark),
                              hint: "a key may appear once per mapping; merge the two entries")
        default:
            return Diagnostic(.yamlSyntax, "\(error)", at: location(nil))
        }
    }

    static func syntaxHint(_ problem: String) -> String? {
        if problem.contains("tab") { return "indent with spaces; YAML forbids tabs for indentation" }
        if problem.contains("mapping values are not allowed") {
            return "a value containing ': ' must be quoted, or the indentation is off"
        }
        if problem.contains("did not find expected key") { return "check the indentation of this line and the one above" }
        if problem.contains("found character that cannot start any token") {
            return "quote values that start with @ or `"
        }
        return nil
    }

    /// Converts Yams nodes, expanding aliases against a node budget.
    struct Walker {
        let file: String
        let limits: InputLimits
        var diagnostics: [Diagnostic] = []
        var nodes = 0
        var stopped = false

        init(file: String, limits: InputLimits) {
            self.file = file
            self.limits = limits
        }

        mutating func convert(_ node: Node, depth: Int) -> SourceNode? {
            guard !stopped else { return nil }
            let here = SourceLocation(file: file, line: node.mark?.line, column: node.mark?.column)
            nodes += 1
            if nodes > limits.maxNodes {
                return stop(Diagnostic(.aliasExpansion, "the document expands to more than \(limits.maxNodes) nodes",
                                       at: here, hint: "aliases expand to too many nodes; write the document without repeated anchors"))
            }
            if depth > limits.maxDepth {
                return stop(Diagnostic(.nestingTooDeep, "nesting deeper than \(limits.maxDepth) levels", at: here,
                                       hint: "Medic files nest at most \(limits.maxDepth) levels"))
            }
            if let tagName = explicitTag(node), !YAMLDocumentParser.allowedTags.contains(tagName) {
                diagnostics.append(Diagnostic(.disallowedTag, "tag '\(Self.shortTag(tagName))' is not allowed", at: here,
                                              hint: "remove the tag; Medic accepts only plain YAML values (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"))
                return nil
            }
            switch node {
            case .scalar(let scalar):
                if scalar.string.utf8.count > limits.maxScalarLength {
                    return stop(Diagnostic(.scalarTooLong,
                                           "a value of \(scalar.string.utf8.count) bytes, over the limit of \(limits.maxScalarLength)",
                                           at: here, hint: "keep long scripts in a file and call it from the action"))
                }
                let style: SourceNode.ScalarStyle = switch scalar.style {
                case .plain, .any: scalar.tag.rawValue == "tag:yaml.org,2002:str" ? .quoted : .plain
                case .literal, .folded: .block
                default: .quoted
                }
                return SourceNode(content: .scalar(.init(text: scalar.string, style: style)), location: here)
            case .sequence(let sequence):
                var items: [SourceNode] = []
                items.reserveCapacity(sequence.count)
                for item in sequence {
                    guard let converted = convert(item, depth: depth + 1) else { continue }
                    items.append(converted)
                }
                return SourceNode(content: .sequence(items), location: here)
            case .mapping(let mapping):
                var pairs: [SourceNode.Pair] = []
                pairs.reserveCapacity(mapping.count)
                for (key, value) in mapping {
                    let keyLocation = SourceLocation(file: file, line: key.mark?.line, column: key.mark?.column)
                    guard case .scalar(let keyScalar) = key else {
                        diagnostics.append(Diagnostic(.wrongType, "a mapping key must be plain text, not \(key.isMapping ? "a mapping" : "a list")",
                                                      at: keyLocation, hint: "write the key as a word"))
                        continue
                    }
                    if keyScalar.string == "<<" && keyScalar.style == .plain {
                        diagnostics.append(Diagnostic(.mergeKey, "merge keys (<<) are not supported", at: keyLocation,
                                                      hint: "write the merged keys out in full, so the file shows what Medic reads"))
                        continue
                    }
                    guard let keyNode = convert(key, depth: depth + 1), let valueNode = convert(value, depth: depth + 1) else { continue }
                    pairs.append(.init(key: keyScalar.string, keyNode: keyNode, value: valueNode))
                }
                return SourceNode(content: .mapping(pairs), location: here)
            case .alias:
                return nil
            }
        }

        private mutating func stop(_ diagnostic: Diagnostic) -> SourceNode? {
            stopped = true
            diagnostics.append(diagnostic)
            return nil
        }

        /// The tag as written (Yams's `Node.tag` resolves implicit tags, which would hide that).
        private func explicitTag(_ node: Node) -> String? {
            let name: String
            switch node {
            case .scalar(let s): name = s.tag.rawValue
            case .mapping(let m): name = m.tag.rawValue
            case .sequence(let s): name = s.tag.rawValue
            case .alias: return nil
            }
            if name.isEmpty { return nil }
            return name
        }

        static func shortTag(_ name: String) -> String {
            name.hasPrefix("tag:yaml.org,2002:") ? "!!" + name.dropFirst("tag:yaml.org,2002:".count) : name
        }
    }
}

extension Node {
    fileprivate var isMapping: Bool {
        if case .mapping = self { return true }
        return false
    }
}
