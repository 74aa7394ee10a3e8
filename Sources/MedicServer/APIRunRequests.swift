import Foundation
import Hummingbird
import MedicEngine
import MedicModel
import NIOCore

/// Who asked for each run requested over the API: `<state>/requesters/<run id>`, holding the
/// identity's name, written and fsync'ed before the run starts. The approval route reads it:
/// the requester of a run cannot approve it, so a run that waits for approval takes a second
/// person. A run with no such file (from an alert, or from the CLI) has no requester. `medic
/// prune` removes a run's file with the run; a request whose run never started removes its own.
struct RunRequesters: Sendable {
    let directory: String

    init(stateDirectory: String) { directory = stateDirectory + "/requesters" }

    func record(_ name: String, for runID: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + runID
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(name.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw JournalError("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 { _ = fsync(folder); close(folder) }
    }

    /// Removes the file of a run that never started (no journal: nothing to approve).
    func forget(_ runID: String) {
        unlink(directory + "/" + runID)
    }

    func requester(of runID: String) -> String? {
        FileManager.default.contents(atPath: directory + "/" + runID).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// `POST /api/v1/runs` (operator): plans a playbook, puts the plan through the gates as a
/// manual run requested by the identity, and carries it out in the background. The answer
/// comes once the run's first record is journaled.
struct APIRunRequests: Sendable {
    let access: AccessControl
    let runner: IncidentRunner
    let interpreter: Interpreter
    let stores: StateStores
    /// The library in force (a SIGHUP may replace it); `catalog` is its catalog now.
    let library: ServedLibrary
    var catalog: Catalog { library.current.catalog }
    let stateDirectory: String
    let maxBodyBytes: Int
    /// Who requested each run; nil: the state directory's (`RunRequesters`).
    var requesters: (any RunRequesterLedger)? = nil
    var ledger: any RunRequesterLedger { requesters ?? RunRequesters(stateDirectory: stateDirectory) }

    func install(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/runs", use: access.require(.operator) { request, _, identity in await start(request, identity) })
    }

    func start(_ request: Request, _ identity: AccessIdentity) async -> Response {
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["playbook", "parameters", "target"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let planned: Plan
        switch APIOperationRoutes.plan(body, catalog: catalog) {
        case .refused(let response): return response
        case .plan(let plan, _): planned = plan
        }
        let runID = RunStore.newRunID(at: interpreter.clock.now)
        do {
            try await ledger.record(identity.name, for: runID)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the request could not be recorded: \(error)")
        }
        let (interpreter, stores, catalog, stateDirectory) = (interpreter, stores, catalog, stateDirectory)
        let outcome = OneAnswer()
        let counted = runner.metrics?.runObserver(playbook: planned.playbookID)
        let started = await runner.carryOut(runID) {
            do {
                var gates = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
                gates.stores = stores
                let gated = await gates.run(planned, GateRequest(mode: .manual), now: interpreter.clock.now)
                _ = try await ExecutionStage(interpreter: interpreter, stores: stores).run(gated, RunRequest(mode: .manual, runID: runID)) { record in
                    counted?(record)
                    if record.event == .runStarted { outcome.give(nil) }
                }
                outcome.give("the run ended before it was journaled")
            } catch {
                outcome.give("\(error)")
            }
        }
        guard started else {
            await ledger.forget(runID)
            return ServerRoutes.error(.serviceUnavailable, "the server is stopping")
        }
        if let failure = await outcome.value() {
            if (try? await stores.runs.read(runID: runID)) == nil { await ledger.forget(runID) }
            return ServerRoutes.error(.serviceUnavailable, "the run could not start: \(failure)")
        }
        return ServerRoutes.json(.accepted, ["run": runID, "playbook": planned.playbookID, "requested_by": identity.name])
    }
}
