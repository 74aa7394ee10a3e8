import AsyncHTTPClient
import Foundation
import MedicModel
import NIOCore

/// Where the `bus` executor publishes its events.
public enum BusTransport: Sendable, Hashable {
    /// Appends one line per event to a JSON Lines file, for a relay or a test to read.
    case outbox(path: String)
    /// POSTs each event in structured mode to an http or https URL.
    case webhook(url: String, headers: [String: String])
    /// Prints one line per event to standard output.
    case stdout

    /// Reads the CLI spelling: `stdout`, `outbox:PATH` or `webhook:URL` (http or https).
    /// Throws `ExecutorError` for anything else.
    public static func parse(_ text: String) throws -> BusTransport {
        let refusal = ExecutorError("bus transport '\(text)' is not one of: stdout, outbox:PATH, webhook:URL (an http or https URL)")
        if text == "stdout" { return .stdout }
        if text.hasPrefix("outbox:") {
            let path = String(text.dropFirst("outbox:".count))
            guard !path.isEmpty else { throw refusal }
            return .outbox(path: path)
        }
        if text.hasPrefix("webhook:") {
            let url = String(text.dropFirst("webhook:".count))
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", components.host?.isEmpty == false else { throw refusal }
            return .webhook(url: url, headers: [:])
        }
        throw refusal
    }
}

/// The `bus` executor: publishes one CloudEvent per attempt, of type `topic`, with the step's
/// parameters as data, the step name as subject and the run and step as extension attributes.
///
/// A webhook that answers with a status other than 2xx or cannot be reached is a step that ran
/// and failed; an outbox that cannot be written throws `ExecutorError` (Medic's own fault).
public struct BusExecutor: StepExecutor {
    /// Setting it to `.outbox(path:)` chooses the file-backed outbox at that path.
    public var transport: BusTransport {
        didSet { outbox = Self.outbox(for: transport) }
    }
    /// The store the `outbox` transport appends to: the file-backed one at the transport's path
    /// (`StateStores.outbox(at:)`), or the one given to `init(outbox:...)`.
    public private(set) var outbox: (any EventOutbox)?
    /// The producer's name; each event's `source` is `<source>/runs/<run id>`.
    public var source: String
    /// Gives each event its `time`.
    public var clock: any EngineClock

    /// Writes one event line for the `stdout` transport; a program with its own writer of
    /// standard output passes it here, so events and its other lines never interleave.
    public var standardOutput: @Sendable (Data) throws -> Void
    /// The engine's client (`EngineEnvironment.http`), for the webhook transport; by default one
    /// of this executor's own.
    public var client: EngineHTTPClient

    public init(transport: BusTransport, source: String = "medic", clock: any EngineClock = SystemClock(),
                client: EngineHTTPClient = EngineHTTPClient(),
                standardOutput: @escaping @Sendable (Data) throws -> Void = { try FileHandle.standardOutput.write(contentsOf: $0) }) {
        self.transport = transport
        outbox = Self.outbox(for: transport)
        self.source = source
        self.clock = clock
        self.client = client
        self.standardOutput = standardOutput
    }

    /// The bus of an engine that publishes to `outbox` (its transport `.outbox(path:)` names the
    /// outbox's `location`).
    public init(outbox: any EventOutbox, environment: EngineEnvironment, source: String = "medic") {
        self.init(transport: .outbox(path: outbox.location), environment: environment, source: source)
        self.outbox = outbox
    }

    private static func outbox(for transport: BusTransport) -> (any EventOutbox)? {
        guard case .outbox(let path) = transport else { return nil }
        return StateStores.outbox(at: path)
    }

    /// The bus of an engine: its clock for the events' `time`, its HTTP client for a webhook.
    public init(transport: BusTransport, environment: EngineEnvironment, source: String = "medic",
                standardOutput: @escaping @Sendable (Data) throws -> Void = { try FileHandle.standardOutput.write(contentsOf: $0) }) {
        self.init(transport: transport, source: source, clock: environment.clock, client: environment.http,
                  standardOutput: standardOutput)
    }

    /// The result's `outputs` hold `event_id`. Throws `ExecutorError` when the request has no
    /// topic, or the outbox or standard output cannot be written.
    public func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        guard let topic = request.topic else {
            throw ExecutorError("step \(request.stepNumber) (\(request.stepName)): action '\(request.action)' has no topic")
        }
        let event = CloudEvent(
            id: UUID().uuidString.lowercased(), source: "\(source)/runs/\(RequestTemplate.percentEncoded(request.runID))",
            type: topic, time: clock.now, subject: request.stepName, data: request.parameters, runID: request.runID,
            stepNumber: request.stepNumber)
        let json: Data
        do {
            json = try event.structuredJSON()
        } catch {
            throw ExecutorError("cannot encode the event of step \(request.stepNumber): \(error)")
        }
        let started = ContinuousClock.now
        let outputs = ["event_id": event.id]

        switch transport {
        case .outbox(let path):
            let outbox = outbox ?? StateStores.outbox(at: path)
            let stored = OutboxEvent(id: event.id, json: Array(json))
            try await Self.offThread { try outbox.append(stored) }
            return ExecutionResult(succeeded: true, seconds: HTTPExecutor.seconds(since: started), outputs: outputs,
                                   summary: "published \(topic) to outbox \(outbox.location)")
        case .stdout:
            do {
                try standardOutput(json + Data("\n".utf8))
            } catch {
                throw ExecutorError("cannot write the event to standard output: \(error)")
            }
            return ExecutionResult(succeeded: true, seconds: HTTPExecutor.seconds(since: started), outputs: outputs,
                                   summary: "published \(topic) to stdout")
        case .webhook(let url, let headers):
            let outcome = await post(Array(json), to: url, headers: headers, timeout: request.timeout)
            let seconds = HTTPExecutor.seconds(since: started)
            switch outcome {
            case .answered(let status, let body) where (200..<300).contains(status):
                return ExecutionResult(succeeded: true, exitStatus: Int32(clamping: status), stdout: body.text, seconds: seconds,
                                       outputs: outputs, summary: "published \(topic) to webhook \(Self.origin(of: url))")
            case .answered(let status, let body):
                return ExecutionResult(succeeded: false, exitStatus: Int32(clamping: status), stdout: body.text, seconds: seconds,
                                       outputs: outputs, summary: "webhook answered HTTP \(status)")
            case .failed(let summary, let timedOut):
                return ExecutionResult(succeeded: false, timedOut: timedOut, seconds: seconds, outputs: outputs,
                                       summary: "cannot publish \(topic): \(summary)")
            }
        }
    }

    /// Publishes an event already made (one an outbox holds) on this bus as it is, id and all:
    /// a webhook's 2xx, a line on standard output, or an append to the outbox. For a relay
    /// that delivers a stored outbox's events: a consumer deduplicates repeats by the id.
    public func publish(stored event: OutboxEvent, timeout: Double) async -> ExecutionResult {
        let started = ContinuousClock.now
        switch transport {
        case .outbox(let path):
            let outbox = outbox ?? StateStores.outbox(at: path)
            do {
                try await Self.offThread { try outbox.append(event) }
                return ExecutionResult(succeeded: true, seconds: HTTPExecutor.seconds(since: started), summary: "stored in outbox \(outbox.location)")
            } catch {
                return ExecutionResult(succeeded: false, seconds: HTTPExecutor.seconds(since: started), summary: "cannot store \(event.id): \(error)")
            }
        case .stdout:
            do {
                try standardOutput(Data(event.json) + Data("\n".utf8))
                return ExecutionResult(succeeded: true, seconds: HTTPExecutor.seconds(since: started), summary: "written to stdout")
            } catch {
                return ExecutionResult(succeeded: false, seconds: HTTPExecutor.seconds(since: started), summary: "cannot write \(event.id) to standard output: \(error)")
            }
        case .webhook(let url, let headers):
            let outcome = await post(event.json, to: url, headers: headers, timeout: timeout)
            let seconds = HTTPExecutor.seconds(since: started)
            switch outcome {
            case .answered(let status, _) where (200..<300).contains(status):
                return ExecutionResult(succeeded: true, exitStatus: Int32(clamping: status), seconds: seconds, summary: "delivered to webhook \(Self.origin(of: url))")
            case .answered(let status, let body):
                return ExecutionResult(succeeded: false, exitStatus: Int32(clamping: status), stdout: body.text, seconds: seconds,
                                       summary: "webhook answered HTTP \(status)")
            case .failed(let summary, let timedOut):
                return ExecutionResult(succeeded: false, timedOut: timedOut, seconds: seconds, summary: "cannot deliver \(event.id): \(summary)")
            }
        }
    }

    /// One CloudEvent in structured mode posted to a webhook, the configured headers first.
    private func post(_ json: [UInt8], to url: String, headers: [String: String], timeout: Double) async -> HTTPExchange.Outcome {
        var outgoing = HTTPClientRequest(url: url)
        outgoing.method = .POST
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { outgoing.headers.add(name: name, value: value) }
        outgoing.headers.replaceOrAdd(name: "Content-Type", value: "application/cloudevents+json; charset=utf-8")
        outgoing.body = .bytes(ByteBuffer(bytes: json))
        return await HTTPExchange.perform(outgoing, through: client, timeout: timeout, keepingLast: 4 << 10)
    }

    /// `scheme://host:port` only: a webhook's path and query often carry its secret.
    private static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return "(invalid url)"
        }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    /// Runs blocking file I/O on a thread of its own, not on one of the few that run every task.
    private static func offThread(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
