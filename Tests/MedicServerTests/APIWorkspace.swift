import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import NIOHTTP1
import XCTest

/// A library, a state directory and a tokens file for the REST API's tests: `approve-001` waits
/// for one approval, `signed-001` (two clusters) for the sign-offs of an sre_lead and an
/// engineering_manager; each appends its name to effects.log when it runs.
struct APIWorkspace {
    let dir: URL
    var state: String { dir.appendingPathComponent("state").path }
    var tokensFile: String { dir.appendingPathComponent("tokens.jsonl").path }
    var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--workdir", dir.path] }
    var effects: [String] {
        ((try? String(contentsOf: dir.appendingPathComponent("effects.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static let actions = """
        actions:
          note:
            type: infrastructure
            risk_level: low
            parameters: {what: required}
            implementation: echo "${what}" >> effects.log
        """

    static let policies = """
        blast_radius_levels:
          single_instance:
            auto_remediation: always_allowed
          cluster_wide:
            auto_remediation: disabled
            approval_required: true
            require_sign_off: [sre_lead, engineering_manager]
        """

    static func playbook(_ id: String, targets: String, extra: String = "") -> String {
        """
        playbook_id: \(id)
        name: \(id)
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        targets: \(targets)
        remediation_steps:
          - {step: 1, name: note, action: note, parameters: {what: \(id)}}
        \(extra)
        metadata: {}
        """
    }

    init(_ test: XCTestCase) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-api-\(UUID().uuidString)")
        test.addTeardownBlock { [dir] in try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks", "policies"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/note.yaml"), atomically: true, encoding: .utf8)
        try Self.policies.write(to: dir.appendingPathComponent("policies/blast.yaml"), atomically: true, encoding: .utf8)
        let playbooks = [
            Self.playbook("approve-001", targets: "[web-01]", extra: "safety: {require_approval: true}"),
            Self.playbook("signed-001", targets: "[{name: c1, labels: {cluster: east}}, {name: c2, labels: {cluster: west}}]"),
            Self.playbook("plain-001", targets: "[web-01]"),
        ]
        for (index, playbook) in playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
    }

    /// `medic token create NAME --role ...` into the workspace's tokens file: the token printed.
    func token(_ name: String, _ roles: String...) throws -> String {
        let output = try MedicCommand.run(["token", "create", name, "--tokens", tokensFile] + roles.flatMap { ["--role", $0] }, in: dir)
        let token = output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(token.hasPrefix("medic_"), "medic token create printed: \(output)")
        return token
    }

    /// A run of `playbook` left waiting for approval by `medic run`: its id.
    func pendingRun(_ playbook: String) throws -> String {
        let output = try MedicCommand.run(["run", playbook, "--json"] + arguments, in: dir)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual(report["status"] as? String, "pending_approval", output)
        return try XCTUnwrap(report["run_id"] as? String, output)
    }

    func journal(_ runID: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: state + "/runs/\(runID).jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func outcome(_ runID: String) -> String? {
        journal(runID).first { $0["event"] as? String == "run_finished" }?["outcome"] as? String
    }

    var audit: [[String: Any]] {
        let text = (try? String(contentsOfFile: state + "/audit.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

extension ServeProcess {
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// One API call: `token` as a bearer token, `json` as the body (or `raw` bytes).
    func call(_ method: HTTPMethod, _ path: String, token: String? = nil, json: [String: Any]? = nil, raw: Data? = nil,
              contentType: String? = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let body = try raw ?? json.map { try JSONSerialization.data(withJSONObject: $0) }
        if let body {
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 4 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
    }
}
