import Foundation
import Hummingbird
import Logging
import MedicEngine
import NIOCore

/// The web page for the people on call (docs/serving.md, "The web page"): `GET /` (switches,
/// approvals, open incidents, breakers, latest runs), `GET /runs/{id}` (one run's timeline),
/// the login form, and one form post per action. These are pages for people, not the JSON API,
/// so the OpenAPI document leaves them out.
///
/// Identity: with tokens configured a person logs in by pasting a token (checked as the API
/// checks a bearer token) and gets a session cookie (`WebSessions`); without tokens the page
/// reads as the anonymous viewer, as the API does. Each form post needs the session, its CSRF
/// token (403 otherwise) and the role the API route of the same action needs, then runs that
/// API route's own function under the session's identity, and redirects (303) back.
struct WebRoutes: Sendable {
    let access: AccessControl
    let runs: APIRunRoutes
    let operations: APIOperationRoutes
    let acknowledgements: IncidentAckRoutes
    let dashboard: WebDashboard
    let sessions: WebSessions
    /// Failed logins by client address and by token (429 beyond them).
    let logins: LoginThrottle
    let maxBodyBytes: Int

    init(access: AccessControl, runs: APIRunRoutes, operations: APIOperationRoutes, acknowledgements: IncidentAckRoutes, clock: any EngineClock,
         maxBodyBytes: Int, sessions: any WebSessionStoring = InMemoryWebSessions(), storeTimeout: Double? = nil) {
        self.access = access
        self.runs = runs
        self.operations = operations
        self.acknowledgements = acknowledgements
        self.dashboard = WebDashboard(stores: runs.stores, incidents: operations.incidents, stateDirectory: runs.stateDirectory, clock: clock)
        self.sessions = WebSessions(clock: clock, store: sessions, timeout: storeTimeout)
        self.logins = LoginThrottle(clock: clock)
        self.maxBodyBytes = maxBodyBytes
    }

    /// An action of the page: the role it needs (that of the API route doing the same) and what it does.
    struct Action: Sendable {
        var role: AccessRole
        var perform: @Sendable (WebForm, AccessIdentity) async -> Response
    }

    func install(on router: Router<BasicRequestContext>) {
        router.get("/", use: { request, _ in await page(request) { viewer in await dashboard.render(viewer) } })
        router.get("/runs/:id", use: { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            return await page(request) { viewer in
                guard let id = await runs.resolve(id) else { return nil }
                return await dashboard.run(id, viewer)
            }
        })
        router.get("/login", use: { request, _ in await loginPage(request, message: nil, status: .ok) })
        router.post("/login", use: { request, _ in await login(request) })
        router.post("/logout", use: { request, _ in await logout(request) })
        router.post("/actions/runs/:id/approve", use: act(.approver) { form, context, identity in
            await runs.approve(context.parameters.get("id") ?? "", Self.apiRequest(["reason": form.text("reason"), "role": form.text("role")]), identity)
        })
        router.post("/actions/runs/:id/deny", use: act(.approver) { form, context, identity in
            await runs.deny(context.parameters.get("id") ?? "", Self.apiRequest(["reason": form.text("reason")]), identity)
        })
        router.post("/actions/incidents/:key/ack", use: act(.operator) { form, context, identity in
            await acknowledgements.handle(.acknowledge, Self.apiRequest(["note": form.text("note")]), key: context.parameters.get("key") ?? "", by: identity.name)
        })
        router.post("/actions/incidents/:key/resolve", use: act(.operator) { form, context, identity in
            await acknowledgements.handle(.resolve, Self.apiRequest(["note": form.text("note")]), key: context.parameters.get("key") ?? "", by: identity.name)
        })
        router.post("/actions/switches/:name/on", use: act(.operator) { form, context, identity in
            await operations.turn(context.parameters.get("name") ?? "", on: true, Self.apiRequest(["reason": form.text("reason")]), identity)
        })
        router.post("/actions/switches/:name/off", use: act(.operator) { form, context, identity in
            await operations.turn(context.parameters.get("name") ?? "", on: false, Self.apiRequest(["reason": form.text("reason")]), identity)
        })
        router.post("/actions/breakers/:playbook/reset", use: act(.operator) { form, context, identity in
            await operations.resetBreaker(context.parameters.get("playbook") ?? "", Self.apiRequest(["reason": form.text("reason")]), identity)
        })
    }

    // MARK: Who is looking

    /// Where the page's own failures are told (the store's details stay out of its answers).
    static let logger = Logger(label: "medic.web")

    enum Visitor {
        case viewer(WebViewer, sessionID: String?)
        /// Tokens are configured and the request has no live session.
        case stranger
        /// The sessions' store did not answer (a shared database that is down).
        case unknown(String)
    }

    func visitor(_ request: Request) async -> Visitor {
        if let id = WebCookies.value(WebCookies.session, in: request.headers[.cookie]) {
            do {
                // The session's identity as the tokens have it now: a removed entry ends its
                // sessions, a changed role applies at once (sessions may outlive a restart).
                if let session = try await sessions.session(id), let identity = access.tokens.identity(named: session.identity.name) {
                    return .viewer(WebViewer(identity: identity, csrf: session.csrf, tokensConfigured: !access.tokens.isEmpty), sessionID: id)
                }
            } catch {
                Self.logger.warning("medic serve: web page: the sessions cannot be read: \(error)")
                return .unknown("the sessions cannot be read now; try again in a moment")
            }
        }
        guard access.tokens.isEmpty else { return .stranger }
        return .viewer(WebViewer(identity: .anonymous, csrf: nil, tokensConfigured: false), sessionID: nil)
    }

    /// A page for a viewer (a stranger is sent to the login form); `content` nil: 404.
    func page(_ request: Request, _ content: (WebViewer) async -> String?) async -> Response {
        let visitor = await visitor(request)
        if case .unknown(let why) = visitor { return Self.refusal(.serviceUnavailable, why) }
        guard case .viewer(let viewer, let sessionID) = visitor else { return Self.redirect("/login") }
        guard let body = await content(viewer) else {
            return Self.html(.notFound, WebPage.document(title: "Not found", viewer: viewer, flash: nil, body: "<p>No such run.</p>"))
        }
        var flash: WebFlash?
        if let sessionID { flash = try? await sessions.takeFlash(sessionID) }
        return Self.html(.ok, WebPage.document(title: "Medic on call", viewer: viewer, flash: flash, body: body))
    }

    // MARK: Form posts

    /// The handler of a form post: session, CSRF token, role, rate, then `perform` (an API
    /// route's function, given the identity); its answer becomes the flash of a redirect.
    func act(_ role: AccessRole, _ perform: @escaping @Sendable (WebForm, BasicRequestContext, AccessIdentity) async -> Response)
        -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context in
            let form: WebForm
            switch await WebForm.read(request, limit: maxBodyBytes) {
            case .refused(let status, let message): return Self.refusal(status, message)
            case .form(let read): form = read
            }
            let visitor = await visitor(request)
            if case .unknown(let why) = visitor { return Self.refusal(.serviceUnavailable, why) }
            guard case .viewer(let viewer, let sessionID?) = visitor, let csrf = viewer.csrf else {
                return Self.refusal(.forbidden, "this form needs a session: log in first (/login)")
            }
            guard let sent = form["csrf"], WebSessions.same(sent, csrf) else {
                return Self.refusal(.forbidden, "the form's CSRF token is missing or wrong: reload the page and try again")
            }
            guard viewer.identity.holds(role) else {
                return Self.refusal(.forbidden, "'\(viewer.identity.name)' does not hold the role \(role.rawValue)")
            }
            if let wait = access.limiter.take(viewer.identity.name) {
                return Self.refusal(.tooManyRequests, "too many requests from this identity; retry in \(wait) s")
            }
            let answer = await perform(form, context, viewer.identity)
            let flash = await Self.flash(answer, path: request.uri.path)
            try? await sessions.setFlash(sessionID, flash)
            return Self.redirect(Self.back(form["back"]))
        }
    }

    /// Where a form returns to: `/` or a run's page, nothing else (no redirect elsewhere).
    static func back(_ path: String?) -> String {
        guard let path, path.hasPrefix("/runs/"), path.count > 6,
              path.dropFirst(6).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return "/" }
        return path
    }

    /// What an API answer says, for a person: the action done, or the API's error and its code.
    static func flash(_ answer: Response, path: String) async -> WebFlash {
        let body = await text(of: answer)
        // `/actions/KIND/NAME/VERB`, said as "KIND NAME VERB-ed".
        let parts = path.split(separator: "/").dropFirst().map { $0.removingPercentEncoding ?? String($0) }
        let kinds = ["runs": "run", "incidents": "incident", "switches": "switch", "breakers": "the breaker of"]
        let verbs = ["approve": "approved", "deny": "denied", "ack": "acknowledged", "resolve": "resolved", "on": "turned on",
                     "off": "turned off", "reset": "reset"]
        let done = parts.count == 3 ? "\(kinds[parts[0]] ?? parts[0]) \(parts[1]) \(verbs[parts[2]] ?? parts[2])" : path
        guard answer.status.code < 300 else {
            let message = ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["error"] as? String ?? body
            return WebFlash(ok: false, message: "Refused (\(answer.status.code)): \(message)")
        }
        return WebFlash(ok: true, message: "Done: \(done)")
    }

    // MARK: Login

    func loginPage(_ request: Request, message: String?, status: HTTPResponse.Status) async -> Response {
        if case .viewer(let viewer, _) = await visitor(request), viewer.csrf != nil { return Self.redirect("/") }
        guard !access.tokens.isEmpty else {
            return Self.html(status, WebPage.document(title: "Log in", viewer: nil, flash: nil,
                                                      body: "<p id=\"message\">No tokens are configured: the page reads as the anonymous viewer, "
                                                          + "and nobody logs in. <a href=\"/\">Open the page</a>.</p>"))
        }
        let nonce = WebSessions.randomHex(bytes: 32)
        var body = "<section id=\"login\"><h2>Log in</h2>"
        if let message { body += "<p id=\"message\" class=\"refused\">\(HTML.escape(message))</p>" }
        body += "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"\(nonce)\">"
            + "<label>Token <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required></label>"
            + "<button type=\"submit\" id=\"log-in\">Log in</button></form>"
            + "<p>Paste the bearer token <code>medic token create</code> printed for you. The browser keeps a session "
            + "cookie, never the token.</p></section>"
        var response = Self.html(status, WebPage.document(title: "Log in", viewer: nil, flash: nil, body: body))
        response.headers[.setCookie] = WebCookies.set(WebCookies.login, nonce, maxAge: 3600)
        return response
    }

    func login(_ request: Request) async -> Response {
        let form: WebForm
        switch await WebForm.read(request, limit: maxBodyBytes) {
        case .refused(let status, let message): return Self.refusal(status, message)
        case .form(let read): form = read
        }
        guard let nonce = WebCookies.value(WebCookies.login, in: request.headers[.cookie]), let sent = form["csrf"], WebSessions.same(sent, nonce) else {
            return Self.refusal(.forbidden, "the login form's CSRF token is missing or wrong: open /login and try again")
        }
        guard !access.tokens.isEmpty else { return await loginPage(request, message: nil, status: .badRequest) }
        let throttled = LoginThrottle.keys(address: ClientAddress.current ?? "unknown", token: form.text("token") ?? "")
        if let wait = logins.wait(throttled) {
            var response = await loginPage(request, message: "Too many failed logins: try again in \(wait) s.", status: .tooManyRequests)
            response.headers[.retryAfter] = "\(wait)"
            return response
        }
        guard let token = form.text("token"), let identity = access.tokens.identity(of: token) else {
            logins.failed(throttled)
            return await loginPage(request, message: "The token is not valid.", status: .unauthorized)
        }
        let id: String
        do {
            id = try await sessions.open(identity).id
        } catch {
            Self.logger.warning("medic serve: web page: a login cannot be kept: \(error)")
            return Self.refusal(.serviceUnavailable, "the login cannot be kept now; try again in a moment")
        }
        var response = Self.redirect("/")
        response.headers[.setCookie] = WebCookies.set(WebCookies.session, id, maxAge: Int(WebSessions.lifetime))
        return response
    }

    func logout(_ request: Request) async -> Response {
        let form: WebForm
        switch await WebForm.read(request, limit: maxBodyBytes) {
        case .refused(let status, let message): return Self.refusal(status, message)
        case .form(let read): form = read
        }
        let visitor = await visitor(request)
        if case .unknown(let why) = visitor { return Self.refusal(.serviceUnavailable, why) }
        guard case .viewer(let viewer, let sessionID?) = visitor, let csrf = viewer.csrf,
              let sent = form["csrf"], WebSessions.same(sent, csrf) else {
            return Self.refusal(.forbidden, "the form's CSRF token is missing or wrong, or the session is over")
        }
        do {
            try await sessions.close(sessionID)
        } catch {
            Self.logger.warning("medic serve: web page: a session cannot be ended: \(error)")
            return Self.refusal(.serviceUnavailable, "the session cannot be ended now; try again in a moment")
        }
        var response = Self.redirect("/login")
        response.headers[.setCookie] = WebCookies.clear(WebCookies.session)
        return response
    }

    // MARK: Answers

    /// A request for an API route's function: a JSON body of the fields given (nil ones left out).
    static func apiRequest(_ fields: [String: String?]) -> Request {
        var object: [String: String] = [:]
        for (key, value) in fields { if let value { object[key] = value } }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return Request(head: HTTPRequest(method: .post, scheme: "http", authority: "medic", path: "/", headerFields: headers),
                       body: RequestBody(buffer: ByteBuffer(bytes: data)))
    }

    static func text(of response: Response) async -> String {
        let collector = CollectedBody()
        try? await response.body.write(collector)
        return String(buffer: collector.buffer)
    }

    static func html(_ status: HTTPResponse.Status, _ document: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Nothing but the page itself: no script at all, styles inline, forms posting here, no framing.
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        html(status, WebPage.document(title: "Refused", viewer: nil, flash: nil,
                                      body: "<p id=\"message\" class=\"refused\">\(HTML.escape(message))</p><p><a href=\"/\">Back to the page</a></p>"))
    }

    static func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }
}

/// Collects a response body written by an API route's function.
final class CollectedBody: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws { self.buffer.writeImmutableBuffer(buffer) }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
