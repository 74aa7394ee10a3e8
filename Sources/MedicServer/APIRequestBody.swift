import Foundation
import Hummingbird
import NIOCore

/// The JSON object of an API request's body, or the answer refusing it: 413 over the size
/// limit, 415 for a body that is not `application/json`, 400 (naming the field) for one that is
/// not a JSON object or has a key the route does not take. An empty body is an empty object.
struct APIRequestBody {
    let object: [String: Any]

    enum Read {
        case body(APIRequestBody)
        case refused(Response)
    }

    static func read(_ request: Request, limit: Int, known: Set<String>) async -> Read {
        let data: Data
        switch await ServerRoutes.collect(request, limit: limit) {
        case .tooLarge: return .refused(ServerRoutes.error(.contentTooLarge, "the body is over \(limit) bytes"))
        case .failed(let error): return .refused(ServerRoutes.error(.badRequest, "the body could not be read: \(error)"))
        case .body(let read): data = Data(read.readableBytesView)
        }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .body(APIRequestBody(object: [:])) }
        guard ServerRoutes.isJSON(request.headers[.contentType]) else {
            return .refused(ServerRoutes.error(.unsupportedMediaType, "the body must be JSON (Content-Type: application/json)"))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return .refused(ServerRoutes.error(.badRequest, "the body must be a JSON object"))
        }
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            return .refused(ServerRoutes.error(.badRequest, "unknown field '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))", field: unknown))
        }
        return .body(APIRequestBody(object: object))
    }

    enum Field<T> {
        case value(T)
        case absent
        case wrong(Response)
    }

    /// The text of `key`: absent, or a 400 naming it when it is not a string (or is empty).
    func text(_ key: String) -> Field<String> {
        guard let value = object[key], !(value is NSNull) else { return .absent }
        guard let text = value as? String, !text.isEmpty else { return .wrong(ServerRoutes.error(.badRequest, "'\(key)' must be non-empty text", field: key)) }
        return .value(text)
    }

    /// Like `text`, with absent read as nil: nil with the answer refusing a wrong value.
    func optionalText(_ key: String) -> (String?, Response?) {
        switch text(key) {
        case .value(let text): (text, nil)
        case .absent: (nil, nil)
        case .wrong(let response): (nil, response)
        }
    }
}
