import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// Every record of a journal is sealed with a checksum and numbered: any changed byte of a real
/// journal is found, or changes nothing; a last record missing only its newline is kept, a torn
/// one set aside; runs are listed by start time.
final class JournalDamageTests: XCTestCase {
    /// The `medic` binary, built beside the test bundle.
    private var medic: URL {
        let candidate = Bundle.main.bundleURL.appendingPathComponent("medic")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle(for: JournalDamageTests.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
    }

    private func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-damage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A finished run written by the binary: steps with outputs, an action verification, a retry.
    private func finishedJournal() throws -> (store: RunStore, id: String, bytes: [UInt8]) {
        let dir = try directory()
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              say:
                type: infrastructure
                risk_level: low
                parameters: {word: required}
                implementation: printf 'said=%s\\n' "${word}"; echo "héllo ${word}" >&2
                verification: "true"
              flaky:
                type: infrastructure
                risk_level: low
                implementation: if [ -e flaked ]; then echo ok; else touch flaked; exit 3; fi
            """.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: sealed-001
            name: Sealed
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: one, action: say, word: "a \\"quoted\\" word"}
              - {step: 2, name: two, action: flaky, retry: {attempts: 2, backoff: linear, initial: 0s}}
            metadata: {}
            """.write(to: dir.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state").path
        let process = Process()
        process.executableURL = medic
        process.arguments = ["run", "sealed-001", "--root", dir.path, "--state-dir", state, "--workdir", dir.path]
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "the run succeeded")
        let store = try RunStore(directory: state)
        let id = try XCTUnwrap(store.runIDs().first)
        return (store, id, Array(try Data(contentsOf: URL(fileURLWithPath: store.journalPath(id)))))
    }

    func testEverySingleByteChangeOfAFinishedJournalIsFoundOrChangesNothing() throws {
        let (store, id, original) = try finishedJournal()
        let path = store.journalPath(id)
        let whole = try store.read(runID: id)
        XCTAssertEqual(whole.damage, [])
        XCTAssertEqual(whole.records.map(\.seq), Array(1...whole.records.count))
        XCTAssertEqual(whole.records.last?.event, .runFinished)
        XCTAssertGreaterThan(whole.records.count, 8, "steps, retry, verification: \(whole.records.map(\.event))")

        // Every byte XOR 0x01; every 7th byte also XOR 0x20 (case, `{` to `[`), 0x80 (not UTF-8)
        // and 0xFF. (Each read decodes the whole journal: every byte five ways took minutes.)
        var found = 0, unchanged = 0, tried = 0
        for offset in original.indices {
            for mask: UInt8 in offset % 7 == 0 ? [0x01, 0x20, 0x80, 0xFF] : [0x01] {
                tried += 1
                var bytes = original
                bytes[offset] ^= mask
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let read = try store.read(runID: id)
                if read.damage.isEmpty {
                    XCTAssertEqual(read.records, whole.records, "byte \(offset) ^ \(mask) changed what the journal says")
                    XCTAssertEqual(read.problems, [], "byte \(offset) ^ \(mask)")
                    unchanged += 1
                } else {
                    found += 1
                    let line = bytes[..<offset].filter { $0 == UInt8(ascii: "\n") }.count + 1
                    XCTAssertTrue(read.damage.contains { $0.line == line || $0.line == line + 1 },
                                  "byte \(offset) ^ \(mask) on line \(line): \(read.damage)")
                    // Damage is never repaired, and stops everything that would write (checked on a sample).
                    guard tried % 29 == 0 else { continue }
                    XCTAssertThrowsError(try store.reopen(runID: id), "byte \(offset) ^ \(mask)") { error in
                        XCTAssertTrue("\(error)".contains("is damaged: \(path):"), "\(error)")
                    }
                    XCTAssertEqual(try store.inspect(id).status, .damaged)
                    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), bytes, "byte \(offset) ^ \(mask): the file was changed")
                }
            }
        }
        XCTAssertEqual(found + unchanged, tried)
        XCTAssertGreaterThan(tried, original.count)
        XCTAssertEqual(unchanged, 0, "CRC-32C finds every single changed byte")
    }

    func testALastRecordMissingOnlyItsNewlineIsKeptAndATornOneIsSetAside() throws {
        let (store, id, original) = try finishedJournal()
        let path = store.journalPath(id)
        let whole = try store.read(runID: id).records
        try Data(original.dropLast()).write(to: URL(fileURLWithPath: path))
        let kept = try store.read(runID: id)
        XCTAssertEqual(kept.damage, [])
        XCTAssertEqual(kept.records, whole, "the last record is whole: only its newline is missing")

        // Every cut inside the last line is a torn write: set aside, the records before it stand.
        let lastLine = original.dropLast().lastIndex(of: UInt8(ascii: "\n"))! + 1
        for cut in stride(from: lastLine + 1, to: original.count - 1, by: 7) {
            try Data(original[..<cut]).write(to: URL(fileURLWithPath: path))
            let torn = try store.read(runID: id)
            XCTAssertEqual(torn.damage, [], "cut at \(cut)")
            XCTAssertEqual(torn.records, Array(whole.dropLast()), "cut at \(cut)")
            XCTAssertTrue(torn.problems.first?.contains("the last line is torn") == true, "\(torn.problems)")
        }
    }

    func testResumeAddsTheNewlineARecordWasMissingBeforeAppending() throws {
        let (store, id, original) = try finishedJournal()
        let path = store.journalPath(id)
        // Without its run_finished, and the record before it missing its newline.
        let lines = original.split(separator: UInt8(ascii: "\n"))
        let bytes = Array(lines.dropLast().joined(separator: [UInt8(ascii: "\n")]))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (summary, contents, status) = try store.inspect(id)
        XCTAssertEqual(status, .interrupted)
        XCTAssertEqual(contents.damage, [])
        XCTAssertEqual(summary?.status, .interrupted)
        let again = try store.read(runID: id)
        XCTAssertEqual(again.damage, [], "run_interrupted went on a line of its own")
        XCTAssertEqual(again.records.last?.event, .runInterrupted)
        XCTAssertEqual(again.records.map(\.seq), Array(1...again.records.count))
    }

    func testTheRateLimitGateCountsADamagedRunOrRefusesWhenItCannot() async throws {
        let loaded = CatalogLoader().load(documents: [
            ("actions/a.yaml", Array("actions:\n  plain: {type: infrastructure, risk_level: low, implementation: \"true\"}\n".utf8)),
            ("playbooks/p.yaml", Array(("playbook_id: limited-001\nname: Limited\nversion: 1.0.0\ncategory: infrastructure\n"
                + "severity: SEV3\nremediation_steps:\n  - {step: 1, name: one, action: plain}\nmetadata: {}\n").utf8)),
            ("policies/p.yaml", Array("rate_limits:\n  once:\n    scope: playbook\n    match: limited-*\n    max_runs: 1\n    window: 1h\n".utf8)),
        ])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let catalog = loaded.catalog
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbooks.first))
        let store = try RunStore(directory: try directory().path + "/state")
        let recorder = RecordingExecutor()
        let interpreter = Interpreter(executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: SystemClock()))
        let id = try await interpreter.start(plan, in: store).runID
        let path = store.journalPath(id)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        func verdict() async -> GateVerdict {
            await RateLimitGate().evaluate(GateContext(plan: plan, catalog: catalog, mode: .manual, stateDirectory: store.directory, now: Date()))
        }
        let second = original.dropLast().lastIndex(of: UInt8(ascii: "\n"))! - 5
        for (offset, expected, text) in [(second, GateVerdict.Decision.deferred, "rate limit 'once'"), (3, .refuse, "the journal of run \(id) is damaged")] {
            var bytes = original
            bytes[offset] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let found = await verdict()
            XCTAssertEqual(found.decision, expected, "byte \(offset): \(found.reason)")
            XCTAssertTrue(found.reason.contains(text), found.reason)
        }
    }

    func testRunsAreListedByStartTimeNotById() async throws {
        let dir = try directory()
        let store = try RunStore(directory: dir.path + "/state")
        let clock = ManualClock()
        let interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let result = CatalogLoader().load(documents: [
            ("actions/a.yaml", Array("actions:\n  plain: {type: infrastructure, risk_level: low, implementation: \"true\"}\n".utf8)),
            ("playbooks/p.yaml", Array("""
                playbook_id: order-001
                name: Order
                version: 1.0.0
                category: infrastructure
                severity: SEV3
                remediation_steps:
                  - {step: 1, name: one, action: plain}
                metadata: {}
                """.utf8)),
        ])
        let plan = try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
        // Started in this order, within one second, with ids that sort the other way.
        let ids = ["20300101-000000-ffffffff", "20300101-000000-88888888", "20300101-000000-00000000"]
        for id in ids {
            _ = try await interpreter.start(plan, in: store, runID: id)
            clock.advance(seconds: 0.2)
        }
        XCTAssertEqual(store.list().runs.map(\.id), ids)
    }
}
