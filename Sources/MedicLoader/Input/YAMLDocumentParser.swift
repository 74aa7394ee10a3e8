import CYaml
import MedicModel

/// YAML bytes -> `SourceNode`, composed directly from libyaml's event stream (the libyaml that
/// Yams builds as its `CYaml` module).
///
/// Why not `Yams.Parser`: its composer recurses once per nesting level (a segfault near 200
/// levels on a secondary thread's stack), checks duplicate keys by hashing key nodes (a key that
/// is an alias hashes its whole expansion: exponential time before any budget can act), and builds
/// a class instance per node, which made it half of `medic validate`'s time. Composing here gives
/// every guard at the event where it applies: depth, expanded-node budget, scalar length, tags,
/// merge keys, aliases as keys, duplicate keys; and positions for all of them.
struct YAMLDocumentParser {
    let bytes: [UInt8]
    let file: String
    let limits: InputLimits

    /// Tags a file may carry: the YAML core ones. Anything else (`!!python/object/apply`, `!Ref`)
    /// is refused, since a tag asks a loader to construct something.
    static let allowedTags: Set<String> = [
        "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", "!",
    ]

    func parse() -> (SourceNode?, [Diagnostic]) {
        bytes.withUnsafeBufferPointer { buffer in
            var composer = Composer(file: file, limits: limits)
            return composer.document(buffer)
        }
    }

    private struct Fatal: Error {}

    /// One pass over the events of one stream. Not copyable in meaning: it owns the libyaml parser.
    private struct Composer {
        let file: String
        let limits: InputLimits
        var parser = yaml_parser_t()
        var diagnostics: [Diagnostic] = []
        var buffer = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        /// Anchored nodes and how many nodes each expands to.
        var anchors: [String: (node: SourceNode, size: Int)] = [:]
        /// Anchors of the collections being composed, innermost last: an alias to one of them
        /// would make a node contain itself.
        var openAnchors: [String] = []
        var expanded = 0

        init(file: String, limits: InputLimits) {
            self.file = file
            self.limits = limits
        }

        mutating func document(_ buffer: UnsafeBufferPointer<UInt8>) -> (SourceNode?, [Diagnostic]) {
            self.buffer = buffer
            yaml_parser_initialize(&parser)
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            do {
                var event = try next()  // stream start
                yaml_event_delete(&event)
                event = try next()
                if event.type == YAML_STREAM_END_EVENT {
                    yaml_event_delete(&event)
                    diagnostics.append(Diagnostic(.emptyFile, "the file holds no YAML document", at: SourceLocation(file: file, line: 1, column: 1),
                                                  hint: "an empty file is not a playbook; delete it or write the document"))
                    return (nil, diagnostics)
                }
                yaml_event_delete(&event)  // document start
                let (root, _) = try node(try next(), depth: 1)
                event = try next()  // document end
                yaml_event_delete(&event)
                event = try next()
                defer { yaml_event_delete(&event) }
                if event.type == YAML_DOCUMENT_START_EVENT {
                    diagnostics.append(Diagnostic(.multipleDocuments, "a second YAML document starts here", at: location(event.start_mark),
                                                  hint: "put one document per file"))
                }
                return (diagnostics.isEmpty ? root : nil, diagnostics)
            } catch {
                return (nil, diagnostics)
            }
        }

        private func location(_ mark: yaml_mark_t) -> SourceLocation {
            SourceLocation(file: file, line: mark.line + 1, column: mark.column + 1)
        }

        private mutating func fail(_ diagnostic: Diagnostic) -> Fatal {
            diagnostics.append(diagnostic)
            return Fatal()
        }

        /// The next event; a libyaml error becomes M006 (or M008 for its own nesting limit).
        private mutating func next() throws -> yaml_event_t {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
                var mark = parser.problem_mark
                if parser.error == YAML_READER_ERROR { mark = yaml_mark_t(index: 0, line: 0, column: 0) }
                if problem.contains("Maximum nesting level") {
                    throw fail(Diagnostic(.nestingTooDeep, "nesting deeper than YAML's limit", at: location(mark),
                                          hint: "Medic files nest at most \(limits.maxDepth) levels"))
                }
                var message = problem
                if let context = parser.context.map({ String(cString: $0) }) {
                    message += " (\(context) at line \(parser.context_mark.line + 1))"
                }
                let atTab = mark.index < buffer.count && buffer[mark.index] == UInt8(ascii: "\t")
                let hint = atTab ? "indent with spaces; YAML forbids tabs for indentation" : Self.syntaxHint(problem)
                throw fail(Diagnostic(.yamlSyntax, message, at: location(mark), hint: hint))
            }
            return event
        }

        static func syntaxHint(_ problem: String) -> String? {
            if problem.contains("tab") { return "indent with spaces; YAML forbids tabs for indentation" }
            if problem.contains("mapping values are not allowed") {
                return "a value containing ': ' must be quoted, or the indentation is off"
            }
            if problem.contains("did not find expected key") { return "check the indentation of this line and the one above" }
            if problem.contains("found character that cannot start any token") { return "quote values that start with @ or `" }
            if problem.contains("found undefined alias") { return "define the anchor (&name) before using the alias (*name)" }
            return nil
        }

        private static func text(_ pointer: UnsafePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        /// Checks a node's tag against the allow-list (reported, not fatal).
        private mutating func checkTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, at mark: yaml_mark_t) {
            guard let name = Self.text(tag), !YAMLDocumentParser.allowedTags.contains(name) else { return }
            let short = name.hasPrefix("tag:yaml.org,2002:") ? "!!" + name.dropFirst("tag:yaml.org,2002:".count) : name
            diagnostics.append(Diagnostic(.disallowedTag, "tag '\(short)' is not allowed", at: location(mark),
                                          hint: "remove the tag; Medic accepts only plain YAML values (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)"))
        }

        /// Composes the node that starts with `event` (which it consumes) and returns it with the
        /// number of nodes it expands to.
        private mutating func node(_ first: yaml_event_t, depth: Int) throws -> (SourceNode, Int) {
            var event = first
            defer { yaml_event_delete(&event) }
            let here = location(event.start_mark)
            expanded += 1
            if expanded > limits.maxNodes {
                throw fail(Diagnostic(.aliasExpansion, "the document expands to more than \(limits.maxNodes) nodes", at: here,
                                      hint: "aliases expand to too many nodes; write the document without repeated anchors"))
            }
            switch event.type {
            case YAML_ALIAS_EVENT:
                let name = Self.text(event.data.alias.anchor) ?? ""
                if openAnchors.contains(name) {
                    throw fail(Diagnostic(.aliasExpansion, "alias '*\(name)' refers to the node that contains it", at: here,
                                          hint: "a node cannot contain itself; write the value out"))
                }
                guard let anchored = anchors[name] else {
                    throw fail(Diagnostic(.yamlSyntax, "alias '*\(name)' names no anchor defined before it", at: here,
                                          hint: "define the anchor (&\(name)) before using the alias"))
                }
                expanded += anchored.size - 1
                if expanded > limits.maxNodes {
                    throw fail(Diagnostic(.aliasExpansion, "the document expands to more than \(limits.maxNodes) nodes", at: here,
                                          hint: "aliases expand to too many nodes; write the document without repeated anchors"))
                }
                return (anchored.node, anchored.size)
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                if scalar.length > limits.maxScalarLength {
                    throw fail(Diagnostic(.scalarTooLong, "a value of \(scalar.length) bytes, over the limit of \(limits.maxScalarLength)",
                                          at: here, hint: "keep long scripts in a file and call it from the action"))
                }
                checkTag(scalar.tag, at: event.start_mark)
                let value = scalar.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: scalar.length), as: UTF8.self) } ?? ""
                var style: SourceNode.ScalarStyle
                switch scalar.style {
                case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: style = .block
                case YAML_PLAIN_SCALAR_STYLE: style = .plain
                default: style = .quoted
                }
                var text = value
                if let tag = Self.text(scalar.tag) {
                    if let typed = applyCoreTag(tag, to: value, at: here) {
                        (text, style) = typed
                    }
                }
                let node = SourceNode(content: .scalar(.init(text: text, style: style)), location: here)
                if let anchor = Self.text(scalar.anchor) { anchors[anchor] = (node, 1) }
                return (node, 1)
            case YAML_SEQUENCE_START_EVENT:
                try checkDepth(depth, at: here)
                checkTag(event.data.sequence_start.tag, at: event.start_mark)
                checkCollectionTag(event.data.sequence_start.tag, "tag:yaml.org,2002:seq", "a list", at: here)
                let anchor = Self.text(event.data.sequence_start.anchor)
                if let anchor { openAnchors.append(anchor) }
                defer { if anchor != nil { openAnchors.removeLast() } }
                var items: [SourceNode] = []
                var size = 1
                while true {
                    var item = try next()
                    if item.type == YAML_SEQUENCE_END_EVENT {
                        yaml_event_delete(&item)
                        break
                    }
                    let (child, childSize) = try node(item, depth: depth + 1)
                    items.append(child)
                    size += childSize
                }
                let node = SourceNode(content: .sequence(items), location: here)
                if let anchor { anchors[anchor] = (node, size) }
                return (node, size)
            case YAML_MAPPING_START_EVENT:
                try checkDepth(depth, at: here)
                checkTag(event.data.mapping_start.tag, at: event.start_mark)
                checkCollectionTag(event.data.mapping_start.tag, "tag:yaml.org,2002:map", "a mapping", at: here)
                let anchor = Self.text(event.data.mapping_start.anchor)
                if let anchor { openAnchors.append(anchor) }
                defer { if anchor != nil { openAnchors.removeLast() } }
                var pairs: [SourceNode.Pair] = []
                var seen: [String: Int] = [:]
                var size = 1
                while true {
                    var keyEvent = try next()
                    if keyEvent.type == YAML_MAPPING_END_EVENT {
                        yaml_event_delete(&keyEvent)
                        break
                    }
                    let keyMark = keyEvent.start_mark
                    let keyIsAlias = keyEvent.type == YAML_ALIAS_EVENT
                    if keyIsAlias {
                        // Refused before expansion: hashing or comparing an expanded key is where alias bombs bite.
                        yaml_event_delete(&keyEvent)
                        throw fail(Diagnostic(.aliasExpansion, "an alias is used as a mapping key", at: location(keyMark),
                                              hint: "write the key out; Medic files need no anchors in keys"))
                    }
                    let (keyNode, keySize) = try node(keyEvent, depth: depth + 1)
                    let (value, valueSize) = try node(try next(), depth: depth + 1)
                    size += keySize + valueSize
                    guard let key = keyNode.scalar else {
                        diagnostics.append(Diagnostic(.wrongType, "a mapping key must be plain text, not \(keyNode.kindDescription)",
                                                      at: keyNode.location, hint: "write the key as a word"))
                        continue
                    }
                    if key.text == "<<" && key.style == .plain {
                        diagnostics.append(Diagnostic(.mergeKey, "merge keys (<<) are not supported", at: keyNode.location,
                                                      hint: "write the merged keys out in full, so the file shows what Medic reads"))
                        continue
                    }
                    if key.style == .plain, PlainScalar.resolve(key.text) != .text {
                        // Keys in Medic files are names: a key YAML reads as null, a boolean or a
                        // number is refused rather than compared as text (`1` and "1" would clash).
                        let type = ImplicitType.of(key.text)?.description ?? "not text"
                        let hint = keyNode.isNull ? "write a name before the colon" : "quote it: \"\(key.text)\""
                        diagnostics.append(Diagnostic(.implicitTyping, "key '\(key.text)' is read as \(type), not text; keys are names",
                                                      at: keyNode.location, hint: hint))
                        continue
                    }
                    if let firstLine = seen[key.text] {
                        diagnostics.append(Diagnostic(.duplicateKey, "duplicate key '\(key.text)' (first at line \(firstLine))",
                                                      at: keyNode.location, hint: "a key may appear once per mapping; merge the two entries"))
                        continue
                    }
                    seen[key.text] = keyNode.location.line ?? 0
                    pairs.append(.init(key: key.text, keyNode: keyNode, value: value))
                }
                let node = SourceNode(content: .mapping(pairs), location: here)
                if let anchor { anchors[anchor] = (node, size) }
                return (node, size)
            default:
                throw fail(Diagnostic(.yamlSyntax, "unexpected YAML event", at: here))
            }
        }

        /// The text and style a core tag gives a scalar (`!!int "42"` is the number 42, `!!str 42`
        /// the text 42), or nil when the tag leaves them as written. A value that does not fit its
        /// tag (`!!int abc`) is reported (M103), never read some other way.
        private mutating func applyCoreTag(_ tag: String, to text: String, at here: SourceLocation)
            -> (String, SourceNode.ScalarStyle)? {
            let core = "tag:yaml.org,2002:"
            guard tag == "!" || tag.hasPrefix(core) else { return nil }
            let name = tag == "!" ? "str" : String(tag.dropFirst(core.count))
            let resolved = PlainScalar.resolve(text)
            func mismatch(_ what: String) -> (String, SourceNode.ScalarStyle)? {
                diagnostics.append(Diagnostic(.wrongType, "'\(text)' is not \(what), as its tag '!!\(name)' says", at: here,
                                              hint: "correct the value, or remove the tag"))
                return nil
            }
            switch name {
            case "str": return (text, .quoted)
            case "null":
                return resolved == .null ? ("null", .plain) : mismatch("null")
            case "bool":
                guard case .boolean(let value) = resolved else { return mismatch("true or false") }
                return (value ? "true" : "false", .plain)
            case "int":
                guard case .integer(let value) = resolved else { return mismatch("a whole number") }
                return (value.map(String.init) ?? text, .plain)
            case "float":
                switch resolved {
                case .float: return (text, .plain)
                case .integer(let value): return ((value.map(String.init) ?? text) + ".0", .plain)
                default: return mismatch("a number")
                }
            case "seq", "map":
                return mismatch(name == "seq" ? "a list" : "a mapping")
            default: return nil  // refused by checkTag
            }
        }

        /// A collection may carry only its own core tag (or `!`).
        private mutating func checkCollectionTag(_ pointer: UnsafeMutablePointer<yaml_char_t>?, _ own: String, _ what: String,
                                                 at here: SourceLocation) {
            guard let tag = Self.text(pointer), tag != own, tag != "!", YAMLDocumentParser.allowedTags.contains(tag) else { return }
            let short = "!!" + tag.dropFirst("tag:yaml.org,2002:".count)
            diagnostics.append(Diagnostic(.wrongType, "\(what) cannot carry the tag '\(short)'", at: here,
                                          hint: "remove the tag"))
        }

        private mutating func checkDepth(_ depth: Int, at here: SourceLocation) throws {
            if depth > limits.maxDepth {
                throw fail(Diagnostic(.nestingTooDeep, "nesting deeper than \(limits.maxDepth) levels", at: here,
                                      hint: "Medic files nest at most \(limits.maxDepth) levels"))
            }
        }
    }
}
