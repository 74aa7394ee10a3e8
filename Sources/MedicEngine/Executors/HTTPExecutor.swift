import AsyncHTTPClient
import Foundation
import MedicModel
import NIOCore
import NIOHTTP1

/// The `http` executor: sends the action's `request` and judges the answer by `expect_status`
/// and `expect_json`.
///
/// `${name}` references in the URL, the header values and the body are replaced by the step's
/// parameters, escaped so that a value cannot change the request's structure: percent-encoded in
/// the URL, JSON-string-escaped in a body whose `Content-Type` mentions `json`, and refused in a
/// header when it holds CR, LF or NUL. A refused or undefined reference, a URL that is not http or
/// https, a connection error and a timeout are results with `succeeded == false`, never throws.
///
/// Requests go through the engine's `EngineHTTPClient`: a refused connection fails at once (retry it
/// with the step's `retry`), and redirects are not followed (list a 3xx in `expect_status` to
/// accept one).
public struct HTTPExecutor: StepExecutor {
    /// Bytes of the response body kept in the result (the last ones), and the largest body
    /// `expect_json` reads.
    public var maxBodyBytes: Int
    /// The engine's client (`EngineEnvironment.http`); by default one of this executor's own.
    public var client: EngineHTTPClient

    public init(maxBodyBytes: Int = 64 << 10, client: EngineHTTPClient = EngineHTTPClient()) {
        self.maxBodyBytes = maxBodyBytes
        self.client = client
    }

    /// Throws `ExecutorError` only when the request has no `request` to send.
    public func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        guard let spec = request.request else {
            throw ExecutorError("step \(request.stepNumber) (\(request.stepName)): action '\(request.action)' has no request")
        }
        let outgoing: HTTPClientRequest
        switch prepare(spec, parameters: request.parameters) {
        case .success(let prepared): outgoing = prepared
        case .failure(let refusal): return ExecutionResult(succeeded: false, summary: "\(refusal.description); nothing sent")
        }

        let started = ContinuousClock.now
        let outcome = await HTTPExchange.perform(outgoing, through: client, timeout: request.timeout, keepingLast: maxBodyBytes)
        let seconds = Self.seconds(since: started)
        switch outcome {
        case .failed(let summary, let timedOut):
            return ExecutionResult(succeeded: false, timedOut: timedOut, seconds: seconds, summary: summary)
        case .answered(let status, let body):
            let verdict = judge(status: status, body: body, spec: spec)
            return ExecutionResult(succeeded: verdict.succeeded, exitStatus: Int32(clamping: status), stdout: body.text,
                                   seconds: seconds, summary: verdict.summary)
        }
    }

    /// The request with every reference substituted, or why it must not be sent.
    func prepare(_ spec: HTTPRequestSpec, parameters: [String: String]) -> Result<HTTPClientRequest, ExecutorError> {
        Result {
            let url = try RequestTemplate.substitute(spec.url, parameters: parameters, place: "the url") { value, _ in
                RequestTemplate.percentEncoded(value)
            }
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", components.host?.isEmpty == false else {
                throw ExecutorError("url '\(url)' is not an http or https URL")
            }
            var outgoing = HTTPClientRequest(url: url)
            outgoing.method = HTTPMethod(rawValue: spec.method.uppercased())
            var isJSON = false
            for (name, template) in spec.headers.sorted(by: { $0.key < $1.key }) {
                let value = try RequestTemplate.substitute(template, parameters: parameters, place: "header '\(name)'") { value, reference in
                    // Scalars, not Characters: "\r\n" is one Character equal to neither "\r" nor "\n".
                    if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                        throw ExecutorError("parameter '\(reference)' in header '\(name)' contains CR, LF or NUL")
                    }
                    return value
                }
                if name.lowercased() == "content-type" && value.lowercased().contains("json") { isJSON = true }
                outgoing.headers.add(name: name, value: value)
            }
            if let template = spec.body {
                let body = try RequestTemplate.substitute(template, parameters: parameters, place: "the body") { value, _ in
                    isJSON ? RequestTemplate.jsonEscaped(value) : value
                }
                outgoing.body = .bytes(ByteBuffer(string: body))
            }
            return outgoing
        }.mapError { $0 as? ExecutorError ?? ExecutorError("\($0)") }
    }

    private func judge(status: Int, body: ResponseTail, spec: HTTPRequestSpec) -> (succeeded: Bool, summary: String) {
        let expected = spec.expectStatus.isEmpty ? [200] : spec.expectStatus
        guard expected.contains(status) else {
            return (false, "HTTP \(status), expected \(Self.list(expected.map(String.init)))")
        }
        guard let expectation = spec.expectJSON else { return (true, "HTTP \(status)") }
        let wanted = "expected \(Self.quoted(expectation.equals))"
        if body.truncated {
            return (false, "HTTP \(status) but the body is over \(maxBodyBytes) bytes, cannot read \(expectation.path); \(wanted)")
        }
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(body.bytes)) else {
            return (false, "HTTP \(status) but the body is not JSON, \(wanted) at \(expectation.path)")
        }
        guard let found = document.value(at: expectation.path) else {
            return (false, "HTTP \(status) but \(expectation.path) is missing, \(wanted)")
        }
        guard let text = found.text else {
            return (false, "HTTP \(status) but \(expectation.path) is \(found.kind), \(wanted)")
        }
        guard text == expectation.equals else {
            return (false, "HTTP \(status) but \(expectation.path) is \(Self.quoted(text)), \(wanted)")
        }
        return (true, "HTTP \(status)")
    }

    private static func list(_ items: [String]) -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + items[items.count - 1]
    }

    private static func quoted(_ text: String) -> String {
        "\"" + RequestTemplate.jsonEscaped(text) + "\""
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
