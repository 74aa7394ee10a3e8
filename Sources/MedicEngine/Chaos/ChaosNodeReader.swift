import Foundation
import MedicLoader
import MedicModel

/// Reads an experiment's document tree, collecting every fault as `file:line:column: message`
/// (the place of the node at fault), so that one look at the file shows all its problems.
final class ChaosNodeReader {
    let file: String
    private(set) var problems: [String] = []

    init(file: String) { self.file = file }

    func fail(_ node: SourceNode, _ message: String) {
        let place = [node.location.file, node.location.line.map(String.init), node.location.column.map(String.init)].compactMap { $0 }
        problems.append(place.joined(separator: ":") + ": " + message)
    }

    /// The pairs of a mapping, refusing keys outside `known` (a misspelt key is never ignored).
    func mapping(_ node: SourceNode, _ what: String, known: Set<String>? = nil) -> [String: SourceNode] {
        guard let pairs = node.mapping else {
            fail(node, "\(what) must be a mapping, found \(node.kindDescription)")
            return [:]
        }
        var result: [String: SourceNode] = [:]
        for pair in pairs {
            if let known, !known.contains(pair.key) {
                fail(pair.keyNode, "unknown key '\(pair.key)' in \(what) (known: \(known.sorted().joined(separator: ", ")))")
                continue
            }
            result[pair.key] = pair.value
        }
        return result
    }

    func list(_ node: SourceNode?, _ what: String) -> [SourceNode] {
        guard let node, !node.isNull else { return [] }
        guard let items = node.sequence else {
            fail(node, "\(what) must be a list, found \(node.kindDescription)")
            return []
        }
        return items
    }

    func text(_ node: SourceNode?, _ what: String, in parent: SourceNode, required: Bool = false) -> String? {
        guard let node, !node.isNull else {
            if required { fail(parent, "missing '\(what)'") }
            return nil
        }
        guard let scalar = node.scalar else {
            fail(node, "'\(what)' must be text, found \(node.kindDescription)")
            return nil
        }
        if required && scalar.text.trimmingCharacters(in: .whitespaces).isEmpty { fail(node, "'\(what)' must not be empty") }
        return scalar.text
    }

    func seconds(_ node: SourceNode?, _ what: String, default value: Double) -> Double {
        guard let node, !node.isNull else { return value }
        guard let scalar = node.scalar else {
            fail(node, "'\(what)' must be a duration such as 5s, found \(node.kindDescription)")
            return value
        }
        switch Interval.parse(scalar.text) {
        case .success(let interval): return interval.seconds
        case .failure(let error):
            fail(node, "'\(what)': \(error.message)")
            return value
        }
    }

    func integer(_ node: SourceNode?, _ what: String, default value: Int) -> Int {
        guard let node, !node.isNull else { return value }
        guard let text = node.scalar?.text, let number = Int(text), number >= 0 else {
            fail(node, "'\(what)' must be a whole number of 0 or more")
            return value
        }
        return number
    }

    func labels(_ node: SourceNode?, _ what: String) -> [String: String] {
        guard let node, !node.isNull else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in mapping(node, what) {
            guard let scalar = value.scalar else {
                fail(value, "'\(what).\(key)' must be text, found \(value.kindDescription)")
                continue
            }
            result[key] = scalar.text
        }
        return result
    }

    func targets(_ node: SourceNode?) -> [TargetSpec] {
        list(node, "targets").compactMap { item in
            let keys = mapping(item, "a target", known: ["name", "labels"])
            guard let name = text(keys["name"], "name", in: item, required: true) else { return nil }
            return TargetSpec(name: name, labels: labels(keys["labels"], "labels"))
        }
    }

    /// The document of `path`, YAML or JSON by its extension, or its problems.
    static func document(path: String) -> Result<SourceNode, ChaosExperimentError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ChaosExperimentError(["\(path): cannot read the file"]))
        }
        let (root, diagnostics) = DocumentReader().read(bytes: [UInt8](data), path: path)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let root, errors.isEmpty else {
            return .failure(ChaosExperimentError(errors.map { diagnostic in
                let place = [diagnostic.location.file, diagnostic.location.line.map(String.init), diagnostic.location.column.map(String.init)]
                return place.compactMap { $0 }.joined(separator: ":") + ": " + diagnostic.message
            }.ifEmpty(["\(path): the file holds no document"])))
        }
        return .success(root)
    }
}

extension Array {
    fileprivate func ifEmpty(_ other: [Element]) -> [Element] { isEmpty ? other : self }
}

/// Reads an experiment file in either format: Chaos Toolkit's when the document has a
/// `steady-state-hypothesis` or a `method`, else Medic's own.
public enum ChaosExperimentLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ChaosExperiment {
        let root = try ChaosNodeReader.document(path: path).get()
        let keys = Set(root.mapping?.map(\.key) ?? [])
        if keys.contains("steady-state-hypothesis") || keys.contains("method") {
            return try ChaosToolkitDecoder(file: path, environment: environment).decode(root)
        }
        return try MedicChaosDecoder(file: path).decode(root)
    }
}
