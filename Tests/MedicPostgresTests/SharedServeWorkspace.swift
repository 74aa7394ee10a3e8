import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// A library for several `medic serve` sharing one database: `note` appends
/// `<message> <target>` to `effects.log` in the workspace (not idempotent: a step run twice shows
/// twice); `quick-001` is one note, `long-001` twenty, each after a short pause.
struct SharedServeWorkspace {
    let dir: URL
    let address: String

    static let steps = 20

    init(_ test: XCTestCase, address: String, database: StateDatabase) async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-shared-\(UUID().uuidString)")
        self.address = address
        test.addTeardownBlock { [dir] in try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              note:
                type: infrastructure
                risk_level: low
                idempotent: false
                parameters: {message: required}
                implementation: |
                  sleep 0.02
                  echo "${message} ${target}" >> effects.log
            """.write(to: dir.appendingPathComponent("actions/note.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook("quick-001", steps: 1).write(to: dir.appendingPathComponent("playbooks/quick.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook("long-001", steps: Self.steps).write(to: dir.appendingPathComponent("playbooks/long.yaml"), atomically: true, encoding: .utf8)
        try """
            routes:
              - match: {alertname: Quick}
                playbook: quick-001
                target_label: instance
              - match: {alertname: Long}
                playbook: long-001
                target_label: instance
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        // An automated run of a playbook that never succeeded here is held for approval (a new
        // incident type): one run of each, by hand, goes into the database first.
        for playbook in ["quick-001", "long-001"] { try await seed(playbook, into: database) }
        try? FileManager.default.removeItem(at: effects)
    }

    static func playbook(_ id: String, steps: Int) -> String {
        var text = """
            playbook_id: \(id)
            name: \(id)
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:

            """
        for step in 1...steps { text += "  - {step: \(step), name: note-\(step), action: note, parameters: {message: \"step \(step)\"}}\n" }
        return text + "metadata: {}\n"
    }

    /// A manual run of `playbook` by the `medic` binary in a state directory of its own, its
    /// records then written into the database as one run.
    func seed(_ playbook: String, into database: StateDatabase) async throws {
        let state = dir.appendingPathComponent("seed-\(playbook)").path
        let run = try MedicBinary.run(["run", playbook, "--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--target", "seed"])
        guard run.status == 0 else { throw LocalPostgres.Failure("the seed run of \(playbook) failed: \(run.stderr)") }
        let journal = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: state + "/runs").first { $0.hasSuffix(".jsonl") })
        let records = try String(contentsOfFile: state + "/runs/" + journal, encoding: .utf8).split(separator: "\n").map { try JournalCodec.decode($0) }
        let store = PostgresRunStore(database, owner: "seed")
        let written = try await store.claim(runID: records[0].run ?? String(journal.dropLast(6)))
        try await written.append(records, now: Date())
        try await written.release()
    }

    var effects: URL { dir.appendingPathComponent("effects.log") }
    var effectLines: [String] { ((try? String(contentsOf: effects, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

    /// `medic serve` as instance `name`, on the shared database, with a state directory of its own;
    /// without the anomaly rules unless `rules` names its metric sources file.
    func serve(_ test: XCTestCase, _ name: String, lease: Double = 3, rules: String? = nil, extra: [String] = []) async throws -> ServeProcess {
        try await ServeProcess(test, in: dir, arguments: [
            "--root", dir.path, "--state-dir", dir.appendingPathComponent("state-\(name)").path, "--workdir", dir.path,
            "--config", dir.appendingPathComponent("medic.yaml").path, "--store", address, "--instance", name,
            "--lease", String(lease), "--grace", "0",
        ] + (rules.map { ["--metrics", $0, "--interval", "100ms"] } ?? ["--no-rules"]) + extra)
    }

    /// An Alertmanager version 4 post of one firing alert.
    static func post(alertname: String, fingerprint: String, instance: String) -> Data {
        let labels = ["alertname": alertname, "instance": instance]
        let alert: [String: Any] = [
            "status": "firing", "labels": labels, "annotations": [:] as [String: String], "startsAt": "2026-12-06T05:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph", "fingerprint": fingerprint,
        ]
        let payload: [String: Any] = [
            "version": "4", "groupKey": "{}:{instance=\"\(instance)\"}", "truncatedAlerts": 0, "status": "firing", "receiver": "medic",
            "groupLabels": ["instance": instance], "commonLabels": labels, "commonAnnotations": [:] as [String: String],
            "externalURL": "http://alertmanager.example", "alerts": [alert],
        ]
        return try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
    }
}
