import Crypto
import Foundation
import MedicEngine

/// What an identity may do over the API. A route needs one role; `admin` holds every role, and
/// any role may read (`viewer`). `operator` and `approver` are separate on purpose: whoever works
/// the switches does not thereby approve runs (docs/serving.md, "Tokens and roles"). `sender`
/// posts alerts and immune events, which start remediations, and nothing else: the token an
/// Alertmanager or an agent keeps in its configuration changes no switch and approves no run.
public enum AccessRole: String, Sendable, CaseIterable, Codable {
    case viewer, `operator`, approver, sender, admin
}

/// Who made a request: a token's name and roles, or the anonymous local reader.
public struct AccessIdentity: Sendable, Equatable {
    public var name: String
    public var roles: Set<AccessRole>

    public init(name: String, roles: Set<AccessRole>) {
        self.name = name
        self.roles = roles
    }

    /// Without tokens configured (loopback only), a caller is this identity: it may read and
    /// nothing else, so that anyone with a shell on the host cannot approve runs or flip switches
    /// through the server under no name.
    public static let anonymous = AccessIdentity(name: "anonymous", roles: [.viewer])

    public func holds(_ role: AccessRole) -> Bool {
        role == .viewer || roles.contains(role) || roles.contains(.admin)
    }
}

/// The tokens file: JSON Lines, one entry a line, `{"name": ..., "roles": [...], "sha256": HEX}`.
/// Only the SHA-256 of a token is kept, never the token: reading the file does not give one.
public struct AccessTokens: Sendable, Equatable {
    public struct Entry: Sendable, Equatable, Codable {
        public var name: String
        public var roles: [AccessRole]
        /// The token's SHA-256, 64 lowercase hex digits.
        public var sha256: String

        public init(name: String, roles: [AccessRole], sha256: String) {
            self.name = name
            self.roles = roles
            self.sha256 = sha256
        }
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    public var isEmpty: Bool { entries.isEmpty }

    /// The entries of `path`; throws naming the line of the first bad entry (a half-read file is never used).
    public static func load(path: String) throws(Problem) -> AccessTokens {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(description: "\(path): cannot read the tokens file")
        }
        var entries: [Entry] = []
        var names: Set<String> = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let at = "\(path):\(index + 1)"
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) else { continue }
            let entry: Entry
            do {
                entry = try JSONDecoder().decode(Entry.self, from: Data(line))
            } catch {
                throw Problem(description: "\(at): not a token entry {\"name\", \"roles\", \"sha256\"}: \(Self.describe(error))")
            }
            if let problem = Self.check(name: entry.name) { throw Problem(description: "\(at): \(problem)") }
            guard !entry.roles.isEmpty else { throw Problem(description: "\(at): '\(entry.name)' has no role") }
            guard entry.sha256.count == 64, entry.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw Problem(description: "\(at): the sha256 of '\(entry.name)' is not 64 lowercase hex digits")
            }
            guard names.insert(entry.name).inserted else { throw Problem(description: "\(at): the name '\(entry.name)' is given twice") }
            entries.append(entry)
        }
        return AccessTokens(entries: entries)
    }

    /// Why `name` cannot name a token (nil: it can): 1 to 64 letters, digits, `.`, `-`, `_` or `@`.
    public static func check(name: String) -> String? {
        let allowed = name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ".-_@".unicodeScalars.contains($0)) }
        return (1...64).contains(name.count) && allowed ? nil : "a token name is 1 to 64 letters, digits, '.', '-', '_' or '@', found '\(name)'"
    }

    /// A new token: `medic_` and 64 hex digits of the system's secure random generator.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return "medic_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    public static func hash(_ token: String) -> String {
        Crypto.SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Adds an entry to `path`, created readable by its owner only (0600) when missing. The
    /// file is rewritten whole and renamed into place, so a reader never sees half an entry,
    /// under an exclusive lock on `<path>.lock`, so two `token create` at once keep both entries.
    public static func append(_ entry: Entry, to path: String) throws(Problem) {
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw Problem(description: "\(path).lock: cannot open: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Problem(description: "\(path).lock: cannot lock: \(String(cString: strerror(errno)))") }
        }
        var current = AccessTokens()
        if FileManager.default.fileExists(atPath: path) { current = try load(path: path) }
        guard !current.entries.contains(where: { $0.name == entry.name }) else {
            throw Problem(description: "\(path): a token named '\(entry.name)' exists already")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = Data()
        for line in current.entries + [entry] {
            guard let data = try? encoder.encode(line) else { throw Problem(description: "cannot encode the entry of '\(line.name)'") }
            text += data + Data("\n".utf8)
        }
        do {
            // Absolute, so that the folder to create and fsync is never "" for a bare file name.
            try StateFiles.writeAtomically(text, to: URL(fileURLWithPath: path).path)
        } catch {
            throw Problem(description: "\(path): \(error)")
        }
    }

    /// The identity named `name` as the tokens have it now (its current roles), nil when no
    /// entry has that name any more: a web session follows its token's entry, so removing the
    /// entry or changing its roles takes effect on its sessions at once.
    public func identity(named name: String) -> AccessIdentity? {
        entries.first { $0.name == name }.map { AccessIdentity(name: $0.name, roles: Set($0.roles)) }
    }

    /// The identity of `token`, nil when no entry has its hash. Every entry is compared, each in
    /// time independent of where the digests differ, so the answer's timing says nothing about
    /// how close a guess was.
    public func identity(of token: String) -> AccessIdentity? {
        let presented = Array(Self.hash(token).utf8)
        var found: Entry?
        for entry in entries {
            let stored = Array(entry.sha256.utf8)
            var difference = UInt8(stored.count == presented.count ? 0 : 1)
            for index in 0..<min(stored.count, presented.count) { difference |= stored[index] ^ presented[index] }
            if difference == 0 { found = entry }
        }
        return found.map { AccessIdentity(name: $0.name, roles: Set($0.roles)) }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "'\(key.stringValue)' is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty ? "not JSON" : "'\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription) (roles: \(AccessRole.allCases.map(\.rawValue).joined(separator: ", ")))"
        default: "\(error)"
        }
    }
}
