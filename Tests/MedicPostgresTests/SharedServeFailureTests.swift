import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// A server SIGKILLed mid-run, again and again, with the other taking its runs over; each class
/// has a PostgreSQL of its own, so a test that stops it or leaves dead servers' work behind
/// does not reach another's.
final class SharedServeKillTests: PostgresTestCase {
    /// `trials` times: a server is SIGKILLed at a random moment of a 20-step run it carries out
    /// (from before the run starts to after it ends); the server that stays up takes the run over
    /// once its lease expires and finishes it. No step, none idempotent, ever runs twice.
    func testAServerKilledAtRandomMomentsHasEachOfItsRunsFinishedByAnotherWithNoStepTwice() async throws {
        let trials = 50
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        _ = try await workspace.serve(self, "survivor", lease: 2)
        let reader = PostgresRunStore(database, owner: "reader")
        var generator = SystemRandomNumberGenerator()
        var outcomes: [String: Int] = [:]
        for trial in 0..<trials {
            // A run cut short in a step fails ("outcome unknown"), and three failures in a row
            // would open the playbook's breaker: an operator closes it, so every trial runs.
            try await PostgresBreakerResets(database).reset("long-001", by: "test", reason: "kill trials", now: Date())
            let victim = try await workspace.serve(self, "victim-\(trial)", lease: 2)
            let target = "kill-\(trial)"
            let answer = try await victim.post("/api/v1/alerts", body: SharedServeWorkspace.post(
                alertname: "Long", fingerprint: String(format: "k%015x", trial), instance: target))
            XCTAssertEqual(answer.status, 200, answer.body)
            // A run of twenty 20 ms steps takes about a second here: kill anywhere in 0-1.5 s.
            try await Task.sleep(nanoseconds: UInt64.random(in: 0...1_500_000_000, using: &generator))
            _ = try await victim.stop(with: SIGKILL)
            let run = try await ServeProcess.poll("the run on \(target) finished by the survivor", seconds: 120) { () async throws -> RunSummary? in
                try await reader.summaries().first { $0.targets == [target] && $0.status == .finished }
            }
            outcomes[run.outcome?.rawValue ?? "none", default: 0] += 1
            let steps = workspace.effectLines.filter { $0.hasSuffix(" \(target)") }
            XCTAssertEqual(steps.count, Set(steps).count, "trial \(trial): a step ran twice: \(steps)")
            // Every step up to the last one that ran did run (none skipped).
            let ran = steps.compactMap { Int($0.split(separator: " ")[1]) }
            XCTAssertEqual(ran, Array(1..<((ran.max() ?? 0) + 1)), "trial \(trial): \(steps)")
            if run.outcome == .succeeded { XCTAssertEqual(ran.count, SharedServeWorkspace.steps, "trial \(trial): succeeded without every step") }
        }
        // Killed between steps or before the run: resumed and succeeded; killed inside a step (not
        // idempotent, no verification): escalated as "outcome unknown". Both happen.
        print("kill trials: \(outcomes)")
        XCTAssertEqual(outcomes.values.reduce(0, +), trials)
        XCTAssertEqual(Set(outcomes.keys).subtracting(["succeeded", "failed"]), [], "\(outcomes)")
    }
}

/// PostgreSQL itself stopped mid-storm (as a crash would) and started again.
final class SharedServeOutageTests: PostgresTestCase {
    /// PostgreSQL stopped in the middle of a storm (as a crash would) and started again: the
    /// posts it refused are retried as Alertmanager retries them, the runs it cut short are taken
    /// over, and every incident ends with exactly one run, each step once.
    func testADatabaseStoppedMidStormLosesNoAlertAndRunsNoneTwice() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let servers = [try await workspace.serve(self, "one", lease: 2), try await workspace.serve(self, "two", lease: 2)]
        let incidents = 30
        let postgres = try server()
        var refused = 0, unavailable = 0
        for round in 0..<3 {
            for incident in 0..<incidents {
                if round == 1 && incident == incidents / 2 { postgres.stop() }
                if round == 2 && incident == 0 { try postgres.start() }
                let body = SharedServeWorkspace.post(alertname: "Quick", fingerprint: String(format: "d%015x", incident), instance: "db-\(incident)")
                // As Alertmanager: a 5xx (or no answer) is sent again, until it is taken.
                while true {
                    let answer = try? await servers[incident % 2].post("/api/v1/alerts", body: body)
                    if answer?.status == 200 { break }
                    refused += 1
                    if answer?.status == 503 { unavailable += 1 }
                    if round == 1 { break }
                    try await Task.sleep(nanoseconds: 200_000_000)
                }
            }
        }
        let reader = PostgresRunStore(database, owner: "reader")
        let finished = try await ServeProcess.poll("\(incidents) runs finished", seconds: 240) { () async throws -> [RunSummary]? in
            let runs = try await reader.summaries().filter { $0.playbookID == "quick-001" && !$0.targets.contains("seed") }
            return runs.count >= incidents && runs.allSatisfy { $0.status == .finished } ? runs : nil
        }
        XCTAssertGreaterThan(refused, 0, "the database was really away for some posts")
        XCTAssertGreaterThan(unavailable, 0, "a post the database cannot take is answered 503 (Alertmanager retries it), not left hanging")
        XCTAssertEqual(finished.count, incidents)
        let notes = workspace.effectLines
        XCTAssertEqual(notes.count, Set(notes).count, "a step ran twice: \(notes)")
        XCTAssertEqual(Set(notes), Set((0..<incidents).map { "step 1 db-\($0)" }), "every incident's step ran")
    }
}
