import Foundation
import MedicEngine

/// Who looks at the page: the identity, and the session's CSRF token (nil for the anonymous
/// viewer of a server without tokens, who has no session and is offered no form).
struct WebViewer: Sendable {
    var identity: AccessIdentity
    var csrf: String?
    var tokensConfigured: Bool

    /// Whether the page offers a form needing `role`: the API's rule (`AccessIdentity.holds`).
    func may(_ role: AccessRole) -> Bool { csrf != nil && identity.holds(role) }
}

/// The HTML of the page: one document, its style inline, no script, nothing fetched from
/// anywhere. Every text from outside (names, labels, reasons, messages) goes through
/// `HTML.escape`; every form carries the session's CSRF token.
enum WebPage {
    static func document(title: String, viewer: WebViewer?, flash: WebFlash?, body: String) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTML.escape(title))</title>
            <style>\(style)</style></head><body>
            <header><h1><a href="/">Medic</a> on call</h1>
            """
        if let viewer { out += identityBar(viewer) }
        out += "</header><main>"
        if let flash {
            out += "<p id=\"flash\" class=\"\(flash.ok ? "ok" : "refused")\">\(HTML.escape(flash.message))</p>"
        }
        return out + body + "</main></body></html>\n"
    }

    static func identityBar(_ viewer: WebViewer) -> String {
        guard let csrf = viewer.csrf else {
            return "<p id=\"identity\">Anonymous viewer: no tokens are configured, so this page only reads "
                + "(make tokens with <code>medic token create</code> and restart with <code>--tokens</code>).</p>"
        }
        let roles = viewer.identity.roles.map(\.rawValue).sorted().joined(separator: ", ")
        return "<form id=\"identity\" method=\"post\" action=\"/logout\">Signed in as <strong id=\"who\">"
            + "\(HTML.escape(viewer.identity.name))</strong> (\(HTML.escape(roles))) "
            + hidden(csrf) + "<button type=\"submit\">Log out</button></form>"
    }

    static func hidden(_ csrf: String) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(csrf))\">"
    }

    /// A form posting to `action` when the viewer holds `role`; else a note saying who may.
    static func form(_ viewer: WebViewer, _ role: AccessRole, action: String, className: String, back: String,
                     fields: String, button: String) -> String {
        guard let csrf = viewer.csrf, viewer.may(role) else {
            return "<span class=\"needs\">\(HTML.escape(button)): needs the \(role.rawValue) role</span>"
        }
        return "<form class=\"\(className)\" method=\"post\" action=\"\(action)\">" + hidden(csrf)
            + "<input type=\"hidden\" name=\"back\" value=\"\(HTML.escape(back))\">"
            + fields + "<button type=\"submit\">\(HTML.escape(button))</button></form>"
    }

    static func input(_ name: String, placeholder: String, required: Bool = false) -> String {
        "<input type=\"text\" name=\"\(name)\" placeholder=\"\(HTML.escape(placeholder))\" maxlength=\"1000\"\(required ? " required" : "")>"
    }

    static func runLink(_ id: String) -> String {
        "<a href=\"/runs/\(HTML.segment(id))\">\(HTML.escape(id))</a>"
    }

    static func table(id: String, title: String, empty: String, header: [String], rows: [String]) -> String {
        var out = "<section id=\"\(id)\"><h2>\(HTML.escape(title))</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"empty\">\(HTML.escape(empty))</p></section>" }
        out += "<table><thead><tr>" + header.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        return out + rows.joined() + "</tbody></table></section>"
    }

    static func cell(_ text: String) -> String { "<td>\(HTML.escape(text))</td>" }

    /// The approve and deny forms of a run waiting for approval, posting back to `back`.
    static func decisionForms(_ runID: String, viewer: WebViewer, back: String) -> String {
        let path = "/actions/runs/\(HTML.segment(runID))"
        return form(viewer, .approver, action: path + "/approve", className: "approve", back: back,
                    fields: input("reason", placeholder: "reason (optional)") + input("role", placeholder: "sign-off role (optional)"),
                    button: "Approve")
            + form(viewer, .approver, action: path + "/deny", className: "deny", back: back,
                   fields: input("reason", placeholder: "reason (required)", required: true), button: "Deny")
    }

    static let style = """
        body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:1em;justify-content:space-between;padding:.6em 1.2em;background:#1b2733;color:#fff}
        header a{color:#fff;text-decoration:none}h1{font-size:1.3em;margin:0}#identity{margin:0}
        main{padding:1em 1.2em;max-width:90em}section{margin-bottom:1.6em}h2{font-size:1.1em;border-bottom:1px solid #ccd;padding-bottom:.2em}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #dde;padding:.3em .5em;text-align:left;vertical-align:top}
        th{background:#eef0f4}form{display:inline-flex;gap:.3em;margin:.1em .4em .1em 0;flex-wrap:wrap}input[type=text],input[type=password]{padding:.2em .4em}
        button{cursor:pointer}.needs,.empty{color:#667}.on{color:#b00;font-weight:bold}
        #flash{padding:.5em .8em;border-radius:4px}#flash.ok{background:#e3f5e1}#flash.refused{background:#fde2e1}
        pre{background:#fff;border:1px solid #dde;padding:.8em;overflow-x:auto;white-space:pre-wrap}code{background:#eef0f4;padding:0 .2em}
        .labels span{display:inline-block;background:#eef0f4;border-radius:3px;padding:0 .3em;margin:0 .2em .2em 0}
        """
}
