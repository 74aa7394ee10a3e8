import Foundation
import PostgresNIO

/// Where the shared state lives: a PostgreSQL address as operators write it for libpq,
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full][&host=/socket/dir]`.
///
/// The password may instead come from the environment (`PGPASSWORD`), so that it appears in no
/// process listing. `host=` in the query names a folder holding the server's Unix socket
/// (`.s.PGSQL.<port>`), as libpq reads it. `sslmode` defaults to `prefer`, as libpq's does.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// As libpq reads `sslmode`: `prefer` and `require` encrypt without checking the server's
    /// certificate (a self-signed one, as Debian's server has by default, is accepted);
    /// `verify-full` checks its chain and its host name.
    public enum TLSMode: String, Sendable, Equatable { case disable, prefer, require, verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// The folder of the server's Unix socket; nil for TCP.
    public var socketFolder: String?

    /// An address that cannot be read: what is wrong with it and how to write it.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil, database: String,
                tls: TLSMode = .prefer, socketFolder: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.socketFolder = socketFolder
    }

    /// Reads `text`; `environment` supplies `PGPASSWORD` when the address has no password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let example = "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, e.g. postgres://medic@127.0.0.1:5432/medic"
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(description: "'\(Self.redacted(text))' is not a PostgreSQL address (postgres://...); \(example)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw Invalid(description: "'\(Self.redacted(text))' names no user; \(example)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "'\(Self.redacted(text))' names no database (the path after the host); \(example)")
        }
        var tls = TLSMode.prefer
        var socketFolder: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw Invalid(description: "sslmode '\(item.value ?? "")' is not one of disable, prefer, require, verify-full")
                }
                tls = mode
            case "host":
                guard let folder = item.value, folder.hasPrefix("/") else {
                    throw Invalid(description: "host= in the query names the folder of a Unix socket, an absolute path")
                }
                socketFolder = folder
            default:
                throw Invalid(description: "'\(item.name)' is not a parameter Medic reads (sslmode, host)")
            }
        }
        let host = components.host ?? ""
        guard !host.isEmpty || socketFolder != nil else {
            throw Invalid(description: "'\(Self.redacted(text))' names no host; \(example)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "port \(port) is out of range (1-65535)") }
        self.init(host: host, port: port, user: user, password: components.password ?? environment["PGPASSWORD"],
                  database: database, tls: tls, socketFolder: socketFolder)
    }

    /// The address without its password, for logs and messages.
    public var description: String {
        let place = socketFolder.map { "?host=\($0)" } ?? ""
        return "postgres://\(user)@\(host.isEmpty ? "" : host):\(port)/\(database)\(place)"
    }

    /// `text` as a message may show it: everything between `://` and the last `@` (the user and
    /// any password, however oddly written: `#`, `%`, spaces) replaced by `***`, whether or not
    /// the rest parses.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text.contains("@") ? "***" : text }
        guard let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
    }

    /// The client configuration for this address.
    public var configuration: PostgresClient.Configuration {
        if let socketFolder {
            return PostgresClient.Configuration(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user,
                                                password: password, database: database)
        }
        var unchecked = TLSConfiguration.makeClientConfiguration()
        unchecked.certificateVerification = .none
        let mode: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: mode = .disable
        case .prefer: mode = .prefer(unchecked)
        case .require: mode = .require(unchecked)
        case .verifyFull: mode = .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
    }
}
