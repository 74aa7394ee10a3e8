import Foundation
import MedicLoader
import MedicModel
import XCTest

/// Health checks files (docs/health.md): the reference's §2 examples load as written, the
/// shapes Medic runs are read with their tier's §2.4 defaults, and faults are located.
final class HealthChecksFixtureTests: XCTestCase {
    private let folder = fixtures.appendingPathComponent("health-checks")

    /// `name` under valid/, or under reference/ (the reference's blocks byte for byte, which are
    /// not YAML to other readers, so .ci/check-schemas.py does not read them).
    private func load(_ name: String) throws -> HealthChecksFile {
        let subfolder = name.hasPrefix("reference-") ? "reference" : "valid"
        let (file, diagnostics) = HealthChecksLoader.load(path: folder.appendingPathComponent("\(subfolder)/\(name)").path)
        XCTAssertEqual(diagnostics, [], "\(name):\n\(describe(diagnostics))")
        return try XCTUnwrap(file, describe(diagnostics))
    }

    private func check(_ name: String, in file: HealthChecksFile) throws -> HealthCheckDefinition {
        try XCTUnwrap(file.checks.first { $0.name == name }, "no check \(name) in \(file.checks.map(\.name))")
    }

    /// §2.1 as the reference writes it, `memory_available: >100MB` included (not YAML on its own:
    /// `>` starts a folded block there), with the shallow tier's defaults from §2.4.
    func testTheReferenceShallowChecksLoadAsWritten() throws {
        let text = try String(contentsOf: folder.appendingPathComponent("reference/reference-2.1-shallow.yaml"), encoding: .utf8)
        XCTAssertTrue(text.contains("    memory_available: >100MB\n"), "the fixture is the reference's text")
        let file = try load("reference-2.1-shallow.yaml")
        XCTAssertEqual(file.checks.map(\.name), ["http_endpoint", "tcp_port", "process_running", "basic_metrics"])
        XCTAssertTrue(file.checks.allSatisfy { $0.tier == .shallow && $0.retries == 3 && $0.failureAction == .escalate && $0.interval == 10 })
        XCTAssertEqual(try check("tcp_port", in: file).probe, .tcp(host: "localhost", port: 8080))
        XCTAssertEqual(try check("tcp_port", in: file).timeout, 0.05)
        XCTAssertEqual(try check("http_endpoint", in: file).timeout, 0.1)
        XCTAssertEqual(try check("process_running", in: file).probe, .process(name: "nginx", pidFile: "/run/nginx.pid"))
        guard case .metrics(let bounds) = try check("basic_metrics", in: file).probe else { return XCTFail("basic_metrics is a metrics check") }
        XCTAssertEqual(bounds.map(\.key), ["cpu_usage", "memory_available", "disk_space"])
        XCTAssertEqual(bounds.map(\.bound.description), ["<90%", ">100MB", ">1GB"])
        XCTAssertEqual(bounds[2].metric, "disk_free_bytes")
        XCTAssertEqual(bounds[2].labels, ["path": "/"])
        // A path with no address to put it on is kept, and says why it is not run.
        guard case .notRun(let reason) = try check("http_endpoint", in: file).probe else { return XCTFail("no base_url: not run") }
        XCTAssertTrue(reason.contains("base_url"), reason)
    }

    func testTheReferenceDeepAndComprehensiveChecksLoadAsWrittenWithWhatIsNotRunSaid() throws {
        let deep = try load("reference-2.2-deep.yaml")
        XCTAssertEqual(deep.checks.map(\.name), ["database_connectivity", "cache_functionality", "api_dependency", "filesystem_io", "message_queue"])
        XCTAssertTrue(deep.checks.allSatisfy { $0.tier == .deep && $0.failureAction == .remediate && $0.interval == 60 })
        XCTAssertEqual(try check("api_dependency", in: deep).retries, 1, "retry: 1 as written")
        XCTAssertEqual(try check("database_connectivity", in: deep).retries, 2, "§2.4: retry 2x")
        XCTAssertEqual(try check("database_connectivity", in: deep).timeout, 2)
        XCTAssertEqual(deep.checks.filter(\.runs).map(\.name), [], "no address for the database, no redis or rabbitmq client")
        let comprehensive = try load("reference-2.3-comprehensive.yaml")
        XCTAssertEqual(comprehensive.checks.count, 5)
        XCTAssertTrue(comprehensive.checks.allSatisfy { $0.tier == .comprehensive && $0.retries == 0 && $0.failureAction == .alert && $0.interval == 900 })
        XCTAssertEqual(try check("end_to_end_workflow", in: comprehensive).timeout, 15)
        for check in comprehensive.checks {
            guard case .notRun(let reason) = check.probe else { return XCTFail("\(check.name) is not something Medic runs") }
            XCTAssertTrue(reason.contains("not something Medic runs"), "\(check.name): \(reason)")
        }
    }

    /// The same shapes with addresses: each check runs, with its own settings over the tier's.
    func testAddressesAndComponentsMakeTheReferenceShapesRunnable() throws {
        let file = try load("components.yaml")
        XCTAssertEqual(file.components, ["api", "database", "host", "proxy"])
        XCTAssertEqual(try check("http_endpoint", in: file).probe,
                       .http(url: "http://127.0.0.1:8080/health", method: "GET", statuses: [200], bodyContains: "ok", maxLatency: 0.08))
        XCTAssertEqual(try check("api_dependency", in: file).probe,
                       .http(url: "http://auth.internal:9000/api/v1/health/deep", method: "GET", statuses: [200], bodyContains: nil, maxLatency: nil))
        XCTAssertEqual(try check("database_connectivity", in: file).probe, .postgres(url: "postgres://medic@127.0.0.1:5432/medic", statement: "SELECT 1"))
        XCTAssertEqual(try check("database_connectivity", in: file).component, "database")
        XCTAssertEqual(try check("nginx_running", in: file).probe, .process(name: "nginx", pidFile: nil))
        let queue = try check("queue_drains", in: file)
        XCTAssertEqual(queue.interval, 30)
        XCTAssertEqual(queue.failureAction, .escalate)
        guard case .command = queue.probe else { return XCTFail("a command check") }
        guard case .http(_, _, let statuses, _, _) = try check("search_answers", in: file).probe else { return XCTFail("an http check") }
        XCTAssertEqual(statuses, [200, 204])
        XCTAssertEqual(file.degradation.recoverAfter, 300)
        XCTAssertEqual(file.degradation.features.map(\.name),
                       ["comprehensive_checks", "automated_remediation", "automated_remediation_noncritical", "cache_warmup", "bulk_reindex"])
        XCTAssertEqual(file.degradation.features.last, DegradationFeature(name: "bulk_reindex", offFrom: .minimal,
                                                                         dependsOn: ["automated_remediation_noncritical"], playbooks: ["reindex-001"]))
        let json = try load("checks.json")
        XCTAssertEqual(json.checks.map(\.probe), [
            .http(url: "http://127.0.0.1:8081/", method: "GET", statuses: [200], bodyContains: nil, maxLatency: nil),
            .tcp(host: "localhost", port: 8081),
            .command("curl -fsS http://127.0.0.1:8081/render >/dev/null"),
        ])
        XCTAssertEqual(json.checks.map(\.retries), [3, 3, 2])
    }

    /// A bound the reference writes unquoted is read only where YAML itself cannot read the
    /// value: a valid block scalar (`>-`) stays a block scalar.
    func testOnlyValuesYAMLCannotReadAreTakenAsBounds() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("checks.yaml").path
        try """
            shallow_checks:
              folded:
                description: >-
                  a: >100MB stays text
                command: "true"
              bounds:
                load1: >4 # a comment after it
                memory_available: >=1GB
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let (file, diagnostics) = HealthChecksLoader.load(path: path)
        XCTAssertEqual(diagnostics, [], describe(diagnostics))
        let checks = try XCTUnwrap(file).checks
        XCTAssertEqual(checks.first?.description, "a: >100MB stays text")
        guard case .metrics(let bounds) = checks.last?.probe else { return XCTFail("bounds is a metrics check") }
        XCTAssertEqual(bounds.map(\.bound.description), [">4", ">=1GB"])
    }

    func testEveryInvalidFixtureIsRefusedWithItsCodeAtALocatedLine() throws {
        let directory = folder.appendingPathComponent("invalid")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 10)
        for name in names {
            let path = directory.appendingPathComponent(name).path
            let (file, diagnostics) = HealthChecksLoader.load(path: path)
            XCTAssertNil(file, name)
            let code = String(name.prefix(4))
            let matching = diagnostics.filter { $0.code.rawValue == code }
            XCTAssertFalse(matching.isEmpty, "\(name) gave \(diagnostics.map(\.code.rawValue)):\n\(describe(diagnostics))")
            for diagnostic in matching {
                XCTAssertEqual(diagnostic.location.file, path, name)
                XCTAssertNotNil(diagnostic.location.line, "\(name): \(diagnostic.message)")
            }
        }
    }

    func testTheSchemaShippedAndEmbeddedAreTheSame() throws {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("schemas/health-checks.schema.json"), encoding: .utf8)
        let embedded = try XCTUnwrap(EmbeddedSchemas.byKind["health-checks"], "run python3 scripts/embed-schemas.py")
        XCTAssertEqual(embedded.trimmingCharacters(in: .whitespacesAndNewlines), shipped.trimmingCharacters(in: .whitespacesAndNewlines),
                       "schemas/health-checks.schema.json changed: run python3 scripts/embed-schemas.py")
    }
}
