import Foundation
import Hummingbird
import NIOCore

/// The fields of an HTML form post (`application/x-www-form-urlencoded`): `+` is a space and
/// `%XX` a byte; a name given twice keeps its first value. Anything else, or a body that is not
/// UTF-8 once decoded, is no form.
struct WebForm: Sendable, Equatable {
    var fields: [String: String]

    subscript(_ name: String) -> String? { fields[name] }

    /// The text of `name` with surrounding white space removed; nil when absent or empty.
    func text(_ name: String) -> String? {
        let trimmed = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return trimmed.isEmpty ? nil : trimmed
    }

    enum Read {
        case form(WebForm)
        case refused(status: HTTPResponse.Status, String)
    }

    static func read(_ request: Request, limit: Int) async -> Read {
        let media = request.headers[.contentType]?.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard media == "application/x-www-form-urlencoded" else {
            return .refused(status: .unsupportedMediaType, "a form post is application/x-www-form-urlencoded")
        }
        switch await ServerRoutes.collect(request, limit: limit) {
        case .tooLarge: return .refused(status: .contentTooLarge, "the form is over \(limit) bytes")
        case .failed(let error): return .refused(status: .badRequest, "the form could not be read: \(error)")
        case .body(let body):
            guard let form = parse(String(decoding: body.readableBytesView, as: UTF8.self)) else {
                return .refused(status: .badRequest, "the form is not URL-encoded UTF-8")
            }
            return .form(form)
        }
    }

    static func parse(_ body: String) -> WebForm? {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            if fields[name] == nil { fields[name] = value }
        }
        return WebForm(fields: fields)
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// HTML text: every character that could end a text node or an attribute value is escaped, so
/// whatever a playbook, a label or a reason says is shown as text and never read as markup.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A path segment for an `href` or a form's `action`: percent-encoded, then escaped.
    static func segment(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return escape(text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
    }
}
