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
/// Requests go through `EngineHTTPClient.shared`: a refused connection fails at once (retry it
/// with the step's `retry`), and redirects are not followed (list a 3xx in `expect_status` to
/// accept one).
public struct HTTPExecutor: StepExecutor {
    /// Bytes of the response body kept in the result (the last ones), and the largest body
    /// `expect_json` reads.
    public var maxBodyBytes: Int

    public init(maxBodyBytes: Int = 64 << 10) {
        self.maxBodyBytes = maxBodyBytes
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
        let outcome = await HTTPExchange.perform(outgoing, timeout: request.timeout, keepingLast: maxBodyBytes)
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

/// `${name}` substitution with an escaping rule per place of the request.
enum RequestTemplate {
    /// Replaces each `${name}` (name: letters, digits, `_`, not starting with a digit) by
    /// `escape(value, name)`; other text, including a `$` not followed by such a reference, is kept.
    /// Throws when a name has no value.
    static func substitute(_ template: String, parameters: [String: String], place: String,
                           escape: (String, String) throws -> String) throws -> String {
        var output = ""
        var rest = template[...]
        while let dollar = rest.range(of: "${") {
            output += rest[..<dollar.lowerBound]
            let afterOpen = rest[dollar.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}"), isName(afterOpen[..<close]) else {
                output += "${"
                rest = afterOpen
                continue
            }
            let name = String(afterOpen[..<close])
            guard let value = parameters[name] else {
                throw ExecutorError("${\(name)} in \(place) is not a parameter of the step")
            }
            output += try escape(value, name)
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        return output + rest
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
    }

    /// Percent-encodes every byte except RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
    static func percentEncoded(_ value: String) -> String {
        var output = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output += "%" + hex(UInt32(byte), digits: 2)
            }
        }
        return output
    }

    /// The content of a JSON string literal holding `value` (RFC 8259 §7), without the quotes.
    static func jsonEscaped(_ value: String) -> String {
        var output = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            // Below U+0020 must be escaped; U+2028/U+2029 too, for readers that embed JSON in JavaScript.
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                output += "\\u" + hex(scalar.value, digits: 4)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// One request and its whole response over `EngineHTTPClient.shared`, within `timeout` seconds from
/// the start: connecting, sending and reading the body all count. Never throws: a failure is an
/// outcome that says what went wrong.
enum HTTPExchange {
    enum Outcome: Sendable {
        case answered(status: Int, body: ResponseTail)
        case failed(summary: String, timedOut: Bool)
    }

    static func perform(_ request: HTTPClientRequest, timeout: Double, keepingLast limit: Int) async -> Outcome {
        let seconds = min(max(timeout, 0), 1e9)
        let end = ContinuousClock.now + .seconds(seconds)
        let response: HTTPClientResponse
        do {
            response = try await EngineHTTPClient.shared.execute(request, deadline: .now() + .nanoseconds(Int64(seconds * 1e9)))
        } catch {
            return failure(error, timeout: timeout, url: request.url)
        }
        // The client's deadline stops at the response head: the body gets what time is left.
        let status = Int(response.status.code)
        let body = response.body
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                var tail = ResponseTail(limit: limit)
                do {
                    for try await chunk in body { tail.append(chunk.readableBytesView) }
                    try Task.checkCancellation()
                    return .answered(status: status, body: tail)
                } catch {
                    return failure(error, timeout: timeout, url: request.url)
                }
            }
            group.addTask {
                do { try await Task.sleep(until: end, clock: .continuous) } catch { return nil }
                return .failed(summary: timedOutSummary(timeout), timedOut: true)
            }
            // The first that finishes wins; a cancelled timer reports nothing.
            for await outcome in group {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return .failed(summary: "cancelled", timedOut: false)
        }
    }

    /// A timeout says only that; any other error names the server and the cause:
    /// `request to 127.0.0.1:8080 failed: Connection refused`.
    static func failure(_ error: any Error, timeout: Double, url: String) -> Outcome {
        let cause: String
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                return .failed(summary: timedOutSummary(timeout), timedOut: true)
            default:
                cause = "\(error)"
            }
        case is CancellationError:
            return .failed(summary: "cancelled", timedOut: false)
        case let error as IOError:
            cause = String(cString: strerror(error.errnoCode))
        default:
            cause = "\(error)"
        }
        let components = URLComponents(string: url)
        let server = (components?.host ?? url) + (components?.port.map { ":\($0)" } ?? "")
        return .failed(summary: "request to \(server) failed: \(cause)", timedOut: false)
    }

    private static func timedOutSummary(_ timeout: Double) -> String {
        "timed out after \(Interval.trim(timeout))s"
    }
}

/// The last `limit` bytes of a response body, and whether anything before them was dropped.
struct ResponseTail: Sendable {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var truncated = false

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit {
            bytes.removeFirst(bytes.count - limit)
            truncated = true
        }
    }

    /// The bytes as UTF-8; a character cut in two by the truncation is left out, not garbled.
    var text: String {
        let start = truncated ? bytes.firstIndex { $0 & 0xC0 != 0x80 } ?? bytes.endIndex : 0
        return String(decoding: bytes[start...], as: UTF8.self)
    }
}

/// A JSON document as `expect_json` reads it: only what comparing a field as text needs.
enum JSONValue: Decodable {
    case null, bool(Bool), number(String), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? container.decode(Int64.self) {
            self = .number(String(integer))
        } else if let double = try? container.decode(Double.self) {
            // 1.0 and 1e3 are the integers 1 and 1000; other numbers print as Swift prints them.
            let exact = double.rounded() == double && abs(double) < 9.0e15
            self = .number(exact ? String(Int64(double)) : String(double))
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value at a dot-separated path: keys of objects, or indexes (from 0) of arrays.
    func value(at path: String) -> JSONValue? {
        var current = self
        for segment in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .object(let members):
                guard let member = members[String(segment)] else { return nil }
                current = member
            case .array(let items):
                guard let index = Int(segment), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The value as `equals` is written: `true`, `1`, `null`, the string itself; nil for an
    /// object or an array.
    var text: String? {
        switch self {
        case .null: "null"
        case .bool(let bool): String(bool)
        case .number(let text): text
        case .string(let string): string
        case .array, .object: nil
        }
    }

    var kind: String {
        switch self {
        case .array: "an array"
        case .object: "an object"
        default: text ?? ""
        }
    }
}
