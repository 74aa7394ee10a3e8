import Foundation
import MedicModel

/// A playbook as a person names it: a file, or a `playbook_id` of the library.
public enum PlaybookReference: Sendable, Hashable {
    case file(String)
    case id(String)

    /// A name given on a command line: a file that exists is a file; anything else is an id.
    public init(_ name: String) {
        self = FileManager.default.fileExists(atPath: name) ? .file(name) : .id(name)
    }

    /// The files to load beside the library for this reference.
    public var extraFiles: [String] {
        if case .file(let path) = self { return [path] }
        return []
    }
}

/// What to plan: the playbook and its inputs. Targets replace the playbook's own when given.
public struct PlanRequest: Sendable {
    public var playbook: Playbook
    public var parameters: [String: String]
    public var targets: [TargetSpec]?

    public init(playbook: Playbook, parameters: [String: String] = [:], targets: [TargetSpec]? = nil) {
        self.playbook = playbook
        self.parameters = parameters
        self.targets = targets
    }
}

/// Finds a named playbook in a checked catalog and plans it: the ungated `Plan` (steps with
/// rendered environments, rollouts, rollback). The gates come after, in `GateStage`.
public struct PlanStage: Sendable {
    public enum Failure: Error, Sendable, Equatable {
        /// The name is meant as a file (it has a folder or a file extension) and none exists.
        case noSuchFile(String)
        /// No playbook of the catalog has this id; `known` lists the ids there are.
        case unknownPlaybook(String, known: [String])
        /// The playbook cannot be planned with these inputs (a missing or mistyped parameter,
        /// a bad target).
        case invalid(PlanError)
    }

    public let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// The playbook `reference` names: the one loaded from that file, or the one with that id.
    public func playbook(_ reference: PlaybookReference) throws -> Playbook {
        switch reference {
        case .file(let path):
            if let found = catalog.playbooks.first(where: { $0.location.file == path }) { return found }
            throw Failure.unknownPlaybook(path, known: catalog.playbooks.map(\.id))
        case .id(let id):
            if let found = catalog.playbook(id: id) { return found }
            if Self.looksLikeAPath(id) { throw Failure.noSuchFile(id) }
            throw Failure.unknownPlaybook(id, known: catalog.playbooks.map(\.id))
        }
    }

    /// The plan of the request, before any gate.
    public func run(_ request: PlanRequest) throws -> Plan {
        do {
            return try Planner(catalog: catalog).plan(request.playbook, given: request.parameters, targets: request.targets)
        } catch let error as PlanError {
            throw Failure.invalid(error)
        } catch {
            throw Failure.invalid(PlanError("\(error)"))
        }
    }

    /// A name with a folder or a file extension is meant as a file, never as a playbook_id
    /// (ids are words and digits joined by hyphens).
    public static func looksLikeAPath(_ name: String) -> Bool {
        name.contains("/") || [".yaml", ".yml", ".json"].contains { name.lowercased().hasSuffix($0) }
    }
}
