import Foundation
import Hummingbird
import MedicEngine
import MedicModel
import MedicText
import NIOCore

/// The REST API's runs and approvals (docs/serving.md, "The REST API"): the list with its
/// filters, one run with the timeline of its journal, approve and deny. Every route is behind
/// `AccessControl`; an approval is recorded under the authenticated identity's name only.
struct APIRunRoutes: Sendable {
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

    static let statuses = ["running", "finished", "interrupted", "pending_approval", "damaged"]

    func install(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/runs", use: access.require(.viewer) { request, _, _ in await list(request) })
        router.get("/api/v1/runs/:id", use: access.require(.viewer) { _, context, _ in await show(context.parameters.get("id") ?? "") })
        router.post("/api/v1/runs/:id/approve", use: access.require(.approver) { request, context, identity in
            await approve(context.parameters.get("id") ?? "", request, identity)
        })
        router.post("/api/v1/runs/:id/deny", use: access.require(.approver) { request, context, identity in
            await deny(context.parameters.get("id") ?? "", request, identity)
        })
    }

    /// Newest first; `playbook`, `status`, `since` (RFC 3339, runs started then or later) and
    /// `limit` (1 to 1000, default 100) narrow it.
    func list(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        var since: Date?
        if let text = query.get("since") {
            guard let date = Timestamp(rfc3339: text)?.date else {
                return ServerRoutes.error(.badRequest, "'since' must be an RFC 3339 time such as 2026-12-06T05:00:00Z", field: "since")
            }
            since = date
        }
        let status = query.get("status")
        if let status, !Self.statuses.contains(status) {
            return ServerRoutes.error(.badRequest, "'status' must be one of \(Self.statuses.joined(separator: ", "))", field: "status")
        }
        var limit = 100
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else {
                return ServerRoutes.error(.badRequest, "'limit' must be a whole number from 1 to 1000", field: "limit")
            }
            limit = value
        }
        let playbook = query.get("playbook")
        let runs = await stores.runs.list(reconcilingIncidents: false).runs.reversed().filter { run in
            (playbook == nil || run.playbookID == playbook) && (status == nil || run.status.rawValue == status)
                && (since == nil || (Timestamp(rfc3339: run.startedAt)?.date).map { $0 >= since! } == true)
        }
        return ServerRoutes.json(.ok, ["runs": Self.objects(RunRenderer.runsJSON(Array(runs.prefix(limit))))])
    }

    func show(_ id: String) async -> Response {
        guard let id = await resolve(id) else { return ServerRoutes.error(.notFound, "no run '\(id)'") }
        guard let (summary, contents, status) = try? await stores.runs.inspect(id) else {
            return ServerRoutes.error(.notFound, "run '\(id)' cannot be read")
        }
        var object: [String: Any] = ["id": id, "status": status.rawValue, "timeline": Self.objects(RunRenderer.json(contents.records))]
        if let summary, let run = (Self.objects(RunRenderer.runsJSON([summary])) as? [Any])?.first { object["run"] = run }
        if !contents.damage.isEmpty { object["damage"] = contents.problems }
        return ServerRoutes.json(.ok, object)
    }

    /// Records the identity's approval, answering once it is in the journal; the run goes on
    /// (or keeps waiting for another approval) in the background.
    func approve(_ id: String, _ request: Request, _ identity: AccessIdentity) async -> Response {
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason", "role", "by"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        // A `by` in the body is read and ignored: the approver is who the token says.
        let (reason, badReason) = body.optionalText("reason")
        let (role, badRole) = body.optionalText("role")
        if let refusal = badReason ?? badRole { return refusal }
        guard let id = await resolve(id) else { return ServerRoutes.error(.notFound, "no run '\(id)'") }
        let (interpreter, stores, catalog, stateDirectory) = (interpreter, stores, catalog, stateDirectory)
        return await decide(id, refusal: { await waiting(id, approver: identity) }, recorded: { $0.event == .approvalGiven && $0.by == identity.name }) { observe in
            var gateStage = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
            gateStage.stores = stores
            let gates = gateStage
            let stage = ExecutionStage(interpreter: interpreter, stores: stores)
            _ = try await stage.approve(id, by: identity.name, role: role, reason: reason, regate: { plan, mode, approvals in
                await gates.run(plan, GateRequest(mode: mode, approvedBy: approvals.approvedBy, signOffs: approvals.signOffs),
                                now: interpreter.clock.now).gates
            }, observe: observe)
        } answer: {
            ServerRoutes.json(.ok, ["run": id, "approved_by": identity.name, "role": role ?? NSNull(), "reason": reason ?? NSNull()])
        }
    }

    func deny(_ id: String, _ request: Request, _ identity: AccessIdentity) async -> Response {
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason", "by"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let reason: String
        switch body.text("reason") {
        case .value(let text): reason = text
        case .absent: return ServerRoutes.error(.badRequest, "a denial needs a 'reason'", field: "reason")
        case .wrong(let response): return response
        }
        guard let id = await resolve(id) else { return ServerRoutes.error(.notFound, "no run '\(id)'") }
        let (interpreter, stores) = (interpreter, stores)
        return await decide(id, refusal: { await waiting(id, approver: nil) }, recorded: { $0.event == .approvalDenied }) { observe in
            _ = try await ExecutionStage(interpreter: interpreter, stores: stores).deny(id, by: identity.name, reason: reason, observe: observe)
        } answer: {
            ServerRoutes.json(.ok, ["run": id, "denied_by": identity.name, "reason": reason])
        }
    }

    /// 409 unless the run waits for approval; for `approver`, 403 when that identity requested
    /// the run (a run waiting for approval takes a second person), and 409 when it has approved
    /// it already since it last asked: each person counts once, so two sign-offs take two people.
    private func waiting(_ id: String, approver: AccessIdentity?) async -> Response? {
        guard let (_, contents, status) = try? await stores.runs.inspect(id) else { return ServerRoutes.error(.notFound, "run '\(id)' cannot be read") }
        guard status == .pendingApproval else {
            return ServerRoutes.error(.conflict, "run \(id) is not waiting for approval (\(status.rawValue))")
        }
        if let approver {
            let requester: String?
            do {
                requester = try await ledger.requester(of: id)
            } catch {
                return ServerRoutes.error(.serviceUnavailable, "who requested run \(id) cannot be read, so it cannot be approved now: \(error)")
            }
            if requester == approver.name {
                return ServerRoutes.error(.forbidden, "'\(approver.name)' requested run \(id) and cannot approve it; another approver must")
            }
        }
        if let approver {
            let since = contents.records.lastIndex { $0.event == .approvalRequested } ?? contents.records.startIndex
            if contents.records[since...].contains(where: { $0.event == .approvalGiven && $0.by == approver.name }) {
                return ServerRoutes.error(.conflict, "'\(approver.name)' has approved run \(id) already; another approver must give the approval still missing")
            }
        }
        return nil
    }

    /// Carries `work` out in the background as one of the server's runs, answering with
    /// `answer` once the journal has the record `recorded` looks for, or with the error that
    /// stopped it first (409: the run changed meanwhile). While this server is still finishing
    /// an earlier decision on the run (a request's run, an approval that left it waiting), it
    /// waits for that to end, up to 10 s, checking `refusal` again each time.
    private func decide(_ id: String, refusal: () async -> Response?, recorded: @escaping @Sendable (JournalRecord) -> Bool,
                        _ work: @escaping @Sendable (@escaping @Sendable (JournalRecord) -> Void) async throws -> Void,
                        answer: () -> Response) async -> Response {
        let outcome = OneAnswer()
        // The decided run goes on here: the metrics see it as one of the server's runs.
        let counted = runner.metrics?.runObserver(continued: true)
        for _ in 0..<200 {
            if let refused = await refusal() { return refused }
            let started = await runner.carryOut(id) {
                do {
                    try await work { record in
                        counted?(record)
                        if recorded(record) { outcome.give(nil) }
                    }
                    outcome.give("the run ended without recording the decision")
                } catch {
                    outcome.give("\(error)")
                }
            }
            guard started else {
                try? await Task.sleep(nanoseconds: 50_000_000)
                continue
            }
            if let failure = await outcome.value() { return ServerRoutes.error(.conflict, failure) }
            return answer()
        }
        return ServerRoutes.error(.conflict, "run \(id) is being decided already, or the server is stopping")
    }

    /// The full id of a run named by its id or an unambiguous prefix; nil when none is.
    func resolve(_ id: String) async -> String? {
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
        return try? await stores.runs.resolve(id)
    }

    static func objects(_ json: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) ?? []
    }
}

/// The first value given, for one waiter: later gifts are dropped.
final class OneAnswer: @unchecked Sendable {  // state only under `lock`
    private let lock = NSLock()
    private var given: String??
    private var waiter: CheckedContinuation<String?, Never>?

    func give(_ value: String?) {
        let resumed: CheckedContinuation<String?, Never>? = lock.withLock {
            guard given == nil else { return nil }
            given = .some(value)
            defer { waiter = nil }
            return waiter
        }
        resumed?.resume(returning: value)
    }

    func value() async -> String? {
        await withCheckedContinuation { continuation in
            let ready: String?? = lock.withLock {
                if let given { return .some(given) }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
