import AsyncHTTPClient
import Foundation
import MedicEngine
import MedicPostgres
import MedicTestSupport
import NIOCore

/// `ha-storm`: Alertmanager posts (N, over 50 incidents, one alert each, sprayed round-robin over
/// the servers) against one `medic serve` on files, one on PostgreSQL and three sharing
/// PostgreSQL, interleaved (files, pg-1, pg-3, files, pg-1, pg-3 ...) in one run against one
/// PostgreSQL server of the benchmark's own (initdb + pg_ctl, Debian's `postgresql`). Reported
/// per configuration: posts accepted per second, acknowledgement p50/p99, alert-to-first-step
/// p99 (an incident's `opened_at` to its run's first `step_started`, both Medic's clock on this
/// host), runs (one per incident expected); then the claim latency of one target's lease under
/// 8 contending instances.
enum HighAvailabilityBenchmark {
    static let incidents = 50

    static func run(posts: Int, clients: Int, rounds: Int) async throws {
        let postgres = try LocalPostgres()
        var rows: [[String: Any]] = []
        for round in 0..<rounds {
            for (name, servers) in [("files-1", 0), ("postgres-1", 1), ("postgres-3", 3)] {
                rows.append(try await configuration(name, servers: servers, postgres: postgres, posts: posts, clients: clients, round: round))
            }
        }
        let claims = try await claimLatency(postgres)
        report("ha-storm", [("posts", posts), ("clients", clients), ("rounds", rounds), ("configurations", rows),
                            ("claim_p50_ms", claims.p50), ("claim_p99_ms", claims.p99), ("claims", claims.count),
                            ("load_average", ServeThroughputBenchmark.loadAverage())],
               lines: rows.map { row in
                   String(format: "ha-storm %@ round %d: %.0f posts/s, ack p50 %.1f ms p99 %.1f ms, alert-to-first-step p99 %.0f ms, runs %d of %d",
                          row["configuration"] as! String as NSString, row["round"] as! Int, row["posts_per_second"] as! Double,
                          row["p50_ms"] as! Double, row["p99_ms"] as! Double, row["first_step_p99_ms"] as! Double, row["runs"] as! Int, incidents)
               } + [String(format: "claim latency, 8 instances on one target's lease: p50 %.2f ms, p99 %.2f ms (%d claims); load average %@",
                           claims.p50, claims.p99, claims.count, ServeThroughputBenchmark.loadAverage() as NSString)])
    }

    /// One configuration: `servers` 0 is one server on files.
    static func configuration(_ name: String, servers: Int, postgres: LocalPostgres, posts: Int, clients: Int,
                              round: Int) async throws -> [String: Any] {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try AlertStormBenchmark.writeLibrary(in: dir)
        var database: StateDatabase?
        var children: [ServeChild] = []
        defer { children.forEach { $0.stop() } }
        let common = ["--config", dir.appendingPathComponent("medic.yaml").path, "--workdir", dir.path]
        if servers == 0 {
            try seed(in: dir, state: dir.appendingPathComponent("state").path)
            children.append(try ServeChild(binary: medicBinary, directory: dir, extra: common))
        } else {
            let location = try postgres.freshDatabase()
            let shared = StateDatabase(location)
            database = shared
            try await SchemaMigrations.migrate(shared)
            let seedState = dir.appendingPathComponent("seed").path
            try seed(in: dir, state: seedState)
            try await importRuns(from: seedState, into: shared)
            for index in 0..<servers {
                children.append(try ServeChild(binary: medicBinary, directory: dir, extra: common + [
                    "--store", postgres.address(location), "--instance", "bench-\(index)", "--state-dir", dir.appendingPathComponent("state-\(index)").path,
                ]))
            }
        }
        let urls = children.map { $0.baseURL + "/api/v1/alerts" }
        let bodies = (0..<incidents).map { ByteBuffer(data: AlertStormBenchmark.body(group: $0, members: [0])) }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)))
        let start = Date()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { tasks in
            for worker in 0..<clients {
                tasks.addTask {
                    var latencies: [Double] = []
                    for index in stride(from: worker, to: posts, by: clients) {
                        var request = HTTPClientRequest(url: urls[index % urls.count])
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(bodies[index % incidents])
                        let sent = DispatchTime.now().uptimeNanoseconds
                        let response = try await client.execute(request, timeout: .seconds(120))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        if response.status == .ok { latencies.append(Double(DispatchTime.now().uptimeNanoseconds - sent) / 1e6) }
                    }
                    return latencies
                }
            }
            return try await tasks.reduce(into: [Double]()) { $0 += $1 }
        }
        let seconds = Date().timeIntervalSince(start)
        try await client.shutdown()
        let firstSteps = try await alertToFirstStep(dir: dir, servers: servers, database: database)
        await database?.shutdown()
        let sorted = latencies.sorted(), steps = firstSteps.sorted()
        return ["configuration": name, "round": round, "seconds": seconds, "posts_per_second": Double(latencies.count) / seconds,
                "accepted": latencies.count, "p50_ms": percentile(sorted, 50), "p99_ms": percentile(sorted, 99),
                "first_step_p99_ms": percentile(steps, 99), "runs": firstSteps.count]
    }

    static func percentile(_ sorted: [Double], _ p: Int) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * p / 100)]
    }

    /// Waits (up to 120 s) for every incident's run to have a first step: each one's time from
    /// the incident's opening to that step, in ms.
    static func alertToFirstStep(dir: URL, servers: Int, database: StateDatabase?) async throws -> [Double] {
        let deadline = Date().addingTimeInterval(120)
        var found: [Double] = []
        while Date() < deadline {
            var opened: [(at: String, run: String)] = []
            var firstStep: [String: String] = [:]
            if let database {
                for stored in try await PostgresIncidents(database).all() { opened += openedAt(Data(stored.body.utf8)) }
                for (_, run) in opened {
                    firstStep[run] = try await PostgresRunRecords(database).records(of: run).first { $0.event == .stepStarted }?.at
                }
            } else {
                let folder = dir.appendingPathComponent("state/incidents").path
                for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasSuffix(".json") {
                    opened += openedAt(FileManager.default.contents(atPath: folder + "/" + file) ?? Data())
                }
                for (_, run) in opened {
                    let text = (try? String(contentsOfFile: dir.appendingPathComponent("state/runs/\(run).jsonl").path, encoding: .utf8)) ?? ""
                    firstStep[run] = text.split(separator: "\n").lazy.compactMap { try? JournalCodec.decode($0) }.first { $0.event == .stepStarted }?.at
                }
            }
            found = opened.compactMap { entry in
                guard let step = firstStep[entry.run].flatMap(JournalRecord.date), let open = JournalRecord.date(entry.at) else { return nil }
                return step.timeIntervalSince(open) * 1000
            }
            if found.count >= incidents { break }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        return found
    }

    static func openedAt(_ data: Data) -> [(at: String, run: String)] {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let at = object["opened_at"] as? String,
              let run = object["run_id"] as? String, object["folded_into"] == nil else { return [] }
        return [(at, run)]
    }

    /// A manual run of the storm's playbook into `state`: safe mode holds the first automated run
    /// of a playbook that never succeeded.
    static func seed(in dir: URL, state: String) throws {
        let seed = Process()
        seed.executableURL = URL(fileURLWithPath: medicBinary)
        seed.arguments = ["run", "restart-service-001", "--param", "service=seed", "--target", "seed", "--root", dir.path, "--state-dir", state,
                          "--workdir", dir.path]
        seed.currentDirectoryURL = dir
        seed.standardOutput = FileHandle.nullDevice
        try seed.run()
        seed.waitUntilExit()
    }

    /// The runs of a state directory written into the database, each as one run.
    static func importRuns(from state: String, into database: StateDatabase) async throws {
        let store = PostgresRunStore(database, owner: "bench-seed")
        for journal in AlertStormBenchmark.journals(state) {
            let text = try String(contentsOfFile: state + "/runs/" + journal, encoding: .utf8)
            let records = try text.split(separator: "\n").map { try JournalCodec.decode($0) }
            let written = try await store.claim(runID: String(journal.dropLast(".jsonl".count)))
            try await written.append(records, now: Date())
            try await written.release()
        }
    }

    /// 8 instances (each its own pool) each claiming one target's 10 ms lease 500 times: the
    /// latency of a claim (granted or refused).
    static func claimLatency(_ postgres: LocalPostgres) async throws -> (p50: Double, p99: Double, count: Int) {
        let location = try postgres.freshDatabase()
        let databases = (0..<8).map { _ in StateDatabase(location) }
        try await SchemaMigrations.migrate(databases[0])
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for (index, database) in databases.enumerated() {
                group.addTask {
                    let leases = PostgresLeases(database)
                    var latencies: [Double] = []
                    for _ in 0..<500 {
                        let start = DispatchTime.now().uptimeNanoseconds
                        _ = try await leases.acquire("target:web-1", owner: "bench-\(index)", seconds: 0.01)
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        for database in databases { await database.shutdown() }
        let sorted = latencies.sorted()
        return (percentile(sorted, 50), percentile(sorted, 99), sorted.count)
    }
}
