import AsyncHTTPClient
import Foundation
import MedicModel

/// Reads a metric from the Prometheus HTTP API with an instant query:
/// `GET <base>/api/v1/query?query=<selector>`.
///
/// A vector with one series, or a scalar, gives its value; an empty vector is "no such series"
/// (nil). More than one series, a range vector, an HTTP or connection failure, or
/// `"status": "error"` is a `MetricError` (with Prometheus's own error text). The query is
/// rendered from the selector with label values escaped as PromQL strings, so a value taken
/// from a parameter cannot change the query's shape.
public struct PrometheusMetricSource: MetricSource {
    /// `http://127.0.0.1:9090` (a trailing `/` is ignored).
    public var baseURL: String
    /// Seconds for the whole request.
    public var timeout: Double
    /// The engine's client (`EngineEnvironment.http`); by default one of this source's own.
    public var client: EngineHTTPClient

    /// Largest response body read.
    static let maxBody = 4 << 20

    public init(baseURL: String, timeout: Double = 10, client: EngineHTTPClient = EngineHTTPClient()) {
        self.baseURL = baseURL
        self.timeout = timeout
        self.client = client
    }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        let query = try Self.promQL(selector)
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var request = HTTPClientRequest(url: "\(base)/api/v1/query?query=\(Self.percentEncoded(query))")
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        let status: UInt
        let body: [UInt8]
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            status = response.status.code
            body = Array(try await response.body.collect(upTo: Self.maxBody).readableBytesView)
        } catch {
            throw MetricError("cannot query Prometheus at \(base): \(error)")
        }
        return try Self.parse(body, status: status, query: query)
    }

    /// The answer to an instant query.
    static func parse(_ body: [UInt8], status: UInt, query: String) throws -> MetricValue? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let outcome = object["status"] as? String else {
            throw MetricError("Prometheus answered HTTP \(status) without a query result for \(query)")
        }
        guard outcome == "success" else {
            let kind = (object["errorType"] as? String).map { "\($0): " } ?? ""
            throw MetricError("Prometheus refused \(query): \(kind)\(object["error"] as? String ?? "status \(outcome)")")
        }
        guard let data = object["data"] as? [String: Any], let type = data["resultType"] as? String else {
            throw MetricError("Prometheus answered without data for \(query)")
        }
        switch type {
        case "vector":
            guard let series = data["result"] as? [[String: Any]] else { throw MetricError("Prometheus sent a malformed vector for \(query)") }
            guard let first = series.first else { return nil }
            guard series.count == 1 else {
                throw MetricError("\(query) matches \(series.count) series; add label matchers to pick one")
            }
            return try sample(first["value"], query: query)
        case "scalar", "string":
            return try sample(data["result"], query: query, text: type == "string")
        default:
            throw MetricError("Prometheus answered a \(type) for \(query); Medic reads instant vectors and scalars")
        }
    }

    /// `[timestamp, "12.5"]`.
    private static func sample(_ value: Any?, query: String, text: Bool = false) throws -> MetricValue {
        guard let pair = value as? [Any], pair.count == 2, let rendered = pair[1] as? String else {
            throw MetricError("Prometheus sent a malformed sample for \(query)")
        }
        if text { return .text(rendered) }
        guard let number = Double(rendered) else { throw MetricError("Prometheus sent '\(rendered)' for \(query), not a number") }
        return .number(number)
    }

    /// The selector as PromQL, label values escaped; names must be Prometheus names.
    static func promQL(_ selector: MetricSelector) throws -> String {
        guard isName(selector.name, colons: true) else {
            throw MetricError("'\(selector.name)' is not a Prometheus metric name (letters, digits, '_' and ':')")
        }
        guard !selector.matchers.isEmpty else { return selector.name }
        let matchers = try selector.matchers.map { matcher in
            guard isName(matcher.label, colons: false) else {
                throw MetricError("'\(matcher.label)' is not a Prometheus label name (letters, digits and '_')")
            }
            return "\(matcher.label)\(matcher.op.rawValue)\"\(escaped(matcher.value))\""
        }
        return "\(selector.name){\(matchers.joined(separator: ","))}"
    }

    private static func isName(_ text: String, colons: Bool) -> Bool {
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || (colons && c == ":") }
        guard let first = text.unicodeScalars.first, letter(first) else { return false }
        return text.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }

    /// A PromQL double-quoted string body: backslash, quote and line breaks escaped.
    private static func escaped(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Every byte but the unreserved ones (RFC 3986) percent-encoded.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Unicode.Scalar(byte)
            if ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || "-._~".unicodeScalars.contains(c) {
                out.unicodeScalars.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
