import Hummingbird
import Logging
import NIOCore

/// The address of the client whose request is being answered (the peer of its connection, never
/// a header the client could write), for the handlers that limit by client: the web page's
/// login. Set by `ClientAddressResponder` around every request; nil outside one.
enum ClientAddress {
    @TaskLocal static var current: String?
}

/// The context the application makes for each request: the connection's source, so that the
/// client's address can be read before the router's own context is made from it.
struct ConnectionContext: InitializableFromSource {
    let channel: any Channel
    let logger: Logger

    init(source: ApplicationRequestContextSource) {
        channel = source.channel
        logger = source.logger
    }
}

/// Answers with the server's router, each request inside `ClientAddress.current` set to the
/// connection's peer address (its IP address; `unknown` when the connection has none).
struct ClientAddressResponder<Routes: HTTPResponder>: HTTPResponder where Routes.Context == BasicRequestContext {
    let routes: Routes

    func respond(to request: Request, context: ConnectionContext) async throws -> Response {
        let peer = context.channel.remoteAddress
        let address = peer?.ipAddress ?? peer?.pathname ?? "unknown"
        return try await ClientAddress.$current.withValue(address) {
            try await routes.respond(to: request, context: BasicRequestContext(source: ApplicationRequestContextSource(channel: context.channel, logger: context.logger)))
        }
    }
}
