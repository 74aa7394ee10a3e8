import Foundation
import MedicLoader
import MedicModel

extension CatalogStage {
    /// The checked catalog of documents held in memory (a name for the diagnostics, the bytes):
    /// a library built into a front end, such as `medic demo`'s. A catalog with errors is a
    /// `Failure`, as for a library on disk.
    public func run(documents: [(path: String, bytes: [UInt8])]) throws -> Catalog {
        let result = loader.load(documents: documents)
        if result.hasErrors { throw Failure(errors: result.diagnostics.filter { $0.severity == .error }) }
        return result.catalog
    }
}
