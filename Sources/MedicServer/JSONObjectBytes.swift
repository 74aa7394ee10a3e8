import Foundation
import Hummingbird
import NIOCore

/// A JSON object written field by field straight to bytes, for the answers and lines written on
/// every ingestion request (an alert post, an immune event). `JSONSerialization` spends most of
/// such a request casting `Any` values; these have a fixed shape. Keys come out in the order
/// they are given: callers give them sorted, as the other answers are.
struct JSONObjectBytes {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    init() { bytes.reserveCapacity(256) }

    mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        Self.append(string: value, to: &bytes)
    }

    mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        bytes += Array((value ? "true" : "false").utf8)
    }

    /// A value that is JSON already (an object, an array of objects).
    mutating func field(_ key: String, json: [UInt8]) {
        self.key(key)
        bytes += json
    }

    /// The object, closed.
    func closed() -> [UInt8] { bytes + [UInt8(ascii: "}")] }

    private mutating func key(_ key: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        Self.append(string: key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    /// `text` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, `\r` or
    /// `\u00XX`, everything else (`/` and non-ASCII included) as it is.
    static func append(string text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `object` as the answer, `Content-Type: application/json`, with a final newline as `ServerRoutes.json` writes.
    static func response(_ status: HTTPResponse.Status, _ object: JSONObjectBytes) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        var buffer = ByteBuffer()
        buffer.writeBytes(object.closed())
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }
}

extension AlertIntake.Outcome {
    /// The outcome as the webhook answers it (`ServerRoutes.describe`, keys sorted).
    var answer: [UInt8] {
        var object = JSONObjectBytes()
        object.field("handling", incident?.handling.rawValue)
        object.field("key", key)
        object.field("outcome", kind.rawValue)
        object.field("playbook", incident?.playbook)
        object.field("reason", incident?.reason)
        object.field("run", incident?.runID)
        object.field("status", incident?.status.rawValue)
        object.field("target", incident?.target)
        return object.closed()
    }

    /// `{"incidents": [...]}`: the webhook's answer for a post.
    static func answer(_ outcomes: [AlertIntake.Outcome]) -> Response {
        var list: [UInt8] = [UInt8(ascii: "[")]
        for (index, outcome) in outcomes.enumerated() {
            if index > 0 { list.append(UInt8(ascii: ",")) }
            list += outcome.answer
        }
        list.append(UInt8(ascii: "]"))
        var object = JSONObjectBytes()
        object.field("incidents", json: list)
        return JSONObjectBytes.response(.ok, object)
    }
}
