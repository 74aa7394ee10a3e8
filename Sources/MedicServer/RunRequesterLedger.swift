import Foundation

/// Who asked for each run requested over the API, as the approval route reads it: the requester
/// of a run cannot approve it alone. Servers sharing a database share it (`--store`), so the
/// rule holds whichever server the approval reaches; one server keeps it in its state directory
/// (`RunRequesters`).
public protocol RunRequesterLedger: Sendable {
    /// Made durable before the run starts; a run id is recorded once.
    func record(_ name: String, for runID: String) async throws
    /// Drops the requester of a run that never started.
    func forget(_ runID: String) async
    /// Nil when the run has none (an alert's, the CLI's). Throws when it cannot be read: the
    /// approval is then refused, never let through for want of knowing who asked.
    func requester(of runID: String) async throws -> String?
}

extension RunRequesters: RunRequesterLedger {}
