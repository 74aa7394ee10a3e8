import Foundation
import MedicPostgres

/// A real PostgreSQL server for the tests: `initdb` into a temporary folder, started with
/// `pg_ctl` on a loopback port, stopped and removed at the end. Debian's `postgresql` package
/// gives the binaries (`.ci/run` installs it). Without them it throws `NotInstalled` (the tests
/// skip then, except under CI=true, where they fail).
///
/// PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user
/// (`runuser`), in a folder that user owns.
public final class LocalPostgres: @unchecked Sendable {
    public let folder: URL
    public let binaries: URL
    public private(set) var port = 0
    private var running = false

    public var data: URL { folder.appendingPathComponent("data") }
    public var log: URL { folder.appendingPathComponent("server.log") }

    /// The folder of PostgreSQL's programs (the newest installed).
    public static func binaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        throw NotInstalled()
    }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)" }
    }

    /// Makes and starts a server (up to three ports are tried: another process may take the one
    /// chosen before the server binds it).
    public init() throws {
        binaries = try Self.binaries()
        folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("medic-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else { throw Failure("running as root, and there is no postgres user to run PostgreSQL as") }
            guard chown(folder.path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else { throw Failure("chown \(folder.path) failed") }
        }
        try run("initdb", ["-D", data.path, "-U", "medic", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        var started: Int?
        for _ in 0..<3 where started == nil {
            let candidate = try Self.freePort()
            do {
                try run("pg_ctl", ["-D", data.path, "-l", log.path, "-w", "-t", "120", "-o",
                                   "-p \(candidate) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(folder.path) -c max_connections=200",
                                   "start"])
                started = candidate
            } catch {
                continue
            }
        }
        guard let started else { throw Failure("PostgreSQL did not start; its log:\n\(serverLog)") }
        port = started
        running = true
    }

    deinit { shutdown() }

    /// Stops the server and removes its folder; nothing of it is left. A test that keeps the
    /// server in a teardown block calls it there: XCTest keeps its test cases (and their blocks)
    /// to the end of the process, so the release alone would leave the server running after it.
    public func shutdown() {
        stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Stops the server at once (as a crash would), if running.
    public func stop() {
        guard running else { return }
        _ = try? run("pg_ctl", ["-D", data.path, "-m", "immediate", "-w", "stop"])
        running = false
    }

    /// Starts a stopped server again on the same port.
    public func start() throws {
        guard !running else { return }
        try run("pg_ctl", ["-D", data.path, "-l", log.path, "-w", "-t", "120", "-o",
                           "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories=\(folder.path) -c max_connections=200",
                           "start"])
        running = true
    }

    public var serverLog: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// A new, empty database of its own for one test: its address.
    public func freshDatabase() throws -> PostgresLocation {
        let name = "t_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try run("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "medic", name])
        return PostgresLocation(host: "127.0.0.1", port: port, user: "medic", database: name, tls: .disable)
    }

    /// `postgres://medic@127.0.0.1:PORT/DATABASE?sslmode=disable`, as an operator writes it.
    public func address(_ location: PostgresLocation) -> String {
        "postgres://medic@127.0.0.1:\(port)/\(location.database)?sslmode=disable"
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when root) and waits for it; throws with
    /// its output when it fails.
    ///
    /// Not through Foundation's `Process`: it learns that a child ended when a descriptor it
    /// gave the child is closed, and the server `pg_ctl start` leaves running would hold that
    /// descriptor forever. Here the child gets only its three standard descriptors, and is
    /// waited for with `waitpid`.
    @discardableResult
    public func run(_ program: String, _ arguments: [String]) throws -> String {
        let path = binaries.appendingPathComponent(program).path
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] + arguments : [path] + arguments
        let output = folder.appendingPathComponent("command-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap(Int32.init)
        for descriptor in open where descriptor > 2 && fcntl(descriptor, F_GETFD) >= 0 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw Failure("cannot start \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exited == 0 else { throw Failure("\(program) \(arguments.joined(separator: " ")) failed (\(exited)): \(text)") }
        return text
    }

    /// A loopback TCP port nobody listens on now.
    public static func freePort() throws -> Int {
        let (fd, port) = try boundLoopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to 127.0.0.1 on a port the system chose (not listening yet): the
    /// caller closes it.
    public static func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw Failure("bind failed")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }
}

