import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI 3.1 document of the server (openapi/medic.openapi.json,
/// embedded at build time), served without a token so that clients and test tools can read it.
struct OpenAPIRoute: Sendable {
    func install(on router: Router<BasicRequestContext>) {
        router.get("/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: EmbeddedOpenAPI.document + "\n")))
        }
    }
}
