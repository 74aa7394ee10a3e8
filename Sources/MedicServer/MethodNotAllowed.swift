import Foundation
import Hummingbird
import NIOCore

/// 405 for a method the API does not take on a path it has: `Allow` lists the methods it does,
/// as HTTP asks (RFC 9110 §15.5.6), instead of the router's 404 ("no such thing"). The paths and
/// their methods are the OpenAPI document's (`OpenAPIDocumentTests` holds every route to it), so
/// this table and the routes cannot drift apart. A path the document does not have stays a 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    struct Route: Sendable {
        /// nil for a `{parameter}` segment.
        var segments: [String?]
        var template: String
        var methods: [String]
    }

    let routes: [Route]

    init(document: String = EmbeddedOpenAPI.document) {
        let object = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any]
        let paths = object?["paths"] as? [String: Any] ?? [:]
        let verbs = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        routes = paths.keys.sorted().map { template in
            let operations = paths[template] as? [String: Any] ?? [:]
            var methods = verbs.filter { operations[$0] != nil }.map { $0.uppercased() }
            if methods.contains("GET") && !methods.contains("HEAD") { methods.append("HEAD") }
            let segments = template.split(separator: "/", omittingEmptySubsequences: false).map { part -> String? in
                part.hasPrefix("{") && part.hasSuffix("}") ? nil : String(part)
            }
            return Route(segments: segments, template: template, methods: methods)
        }
    }

    /// The route of the document `path` is on, if any.
    func route(for path: String) -> Route? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return routes.first { route in
            route.segments.count == parts.count && zip(route.segments, parts).allSatisfy { segment, part in
                segment.map { $0 == part } ?? !part.isEmpty
            }
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let route = route(for: request.uri.path), !route.methods.contains(request.method.rawValue) else { throw error }
            var response = ServerRoutes.error(.methodNotAllowed,
                                              "\(request.method.rawValue) is not a method of \(route.template); it takes \(route.methods.joined(separator: ", "))")
            response.headers[.allow] = route.methods.joined(separator: ", ")
            return response
        }
    }
}
