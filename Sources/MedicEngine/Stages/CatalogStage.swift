import Foundation
import MedicLoader
import MedicModel

// The stages of a remediation, shared by every front end (`medic plan`, `run`, `watch`, and a
// server later): each is a small value with one job, its input and its output typed, so that no
// front end keeps its own copy of one.
//
//   CatalogStage    library folders (+ a playbook file)     -> Catalog            (load)
//   PlaybookSelector Incident                                -> chosen Plan | unmatched (select)
//   PlanStage       PlanRequest (a named playbook, inputs)  -> Plan               (plan)
//   GateStage       Plan + GateRequest                      -> Plan with verdicts (gate)
//   ExecutionStage  gated Plan + ExecutionRequest           -> RunReport          (execute; the
//                   interpreter journals the outcome into the knowledge base and the immune
//                   memory as the run ends: learn)
//
// A front end only parses its input, calls the stages in this order and renders their outputs.

/// Loads the library under a root (its `playbooks/ actions/ rules/ policies/`), and extra files
/// such as a playbook named by path. A catalog with errors is never planned or executed: it is
/// returned as a `Failure` holding the errors, for the front end to show.
public struct CatalogStage: Sendable {
    public struct Failure: Error, Sendable {
        /// Every error diagnostic of the load, in the loader's order.
        public var errors: [Diagnostic]
    }

    public var loader: CatalogLoader

    public init(loader: CatalogLoader = CatalogLoader()) { self.loader = loader }

    /// The checked catalog of the library under `root` and of `extraFiles` (loaded first).
    public func run(root: String, extraFiles: [String] = []) throws -> Catalog {
        let result = loader.load(paths: extraFiles + CatalogLoader.libraryPaths(under: root))
        if result.hasErrors { throw Failure(errors: result.diagnostics.filter { $0.severity == .error }) }
        return result.catalog
    }
}
