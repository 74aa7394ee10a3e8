import Foundation
import MedicEngine
import MedicModel

/// The catalog and the configuration the server acts on, read by the alert intake and the
/// incident runner and replaced whole at a reload (SIGHUP). A reader takes one `Snapshot` and
/// keeps it for what it decides: a reload never gives it a catalog of one load and routes of
/// another, and what it already holds (a run going) is not changed.
public final class ServedLibrary: @unchecked Sendable {
    /// One load of the library and its configuration; `generation` counts the loads (1 at start).
    public struct Snapshot: Sendable {
        public let catalog: Catalog
        public let configuration: ServeConfiguration
        public let generation: Int
    }

    // The one mutable value, only touched under `lock`: this is what makes the class Sendable.
    private let lock = NSLock()
    private var snapshot: Snapshot

    public init(catalog: Catalog, configuration: ServeConfiguration) {
        snapshot = Snapshot(catalog: catalog, configuration: configuration, generation: 1)
    }

    /// The catalog and configuration in force now.
    public var current: Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return snapshot
    }

    /// Puts a new load in force for every reader from now on: the snapshot it became.
    @discardableResult
    public func replace(catalog: Catalog, configuration: ServeConfiguration) -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        snapshot = Snapshot(catalog: catalog, configuration: configuration, generation: snapshot.generation + 1)
        return snapshot
    }
}
