import Foundation
@testable import MedicKnowledge
import XCTest

/// Every rule of seed-systems §1 as docs/knowledge.md "Immune memory" states it.
final class ImmuneMemoryTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)
    private let day: TimeInterval = 86_400

    private func signature(_ type: String = "network-partition", _ components: [String] = ["storage"],
                           _ pattern: String = "network-partition:storage:3-nodes") -> FaultSignature {
        FaultSignature(faultType: type, components: components, pattern: pattern)
    }

    private func outcome(_ signature: FaultSignature, _ succeeded: Bool = true, actions: [RemediationAction]? = nil,
                         origin: LearningOrigin = .run) -> RemediationOutcome {
        RemediationOutcome(signature: signature,
                           actions: actions ?? [RemediationAction(playbookID: "pb-001", action: "restart", priority: 1)],
                           succeeded: succeeded, origin: origin, originID: "r1")
    }

    // MARK: - Signatures

    func testSignatureSortsComponentsAndIdIsSHA256OfFramedFields() {
        let a = signature("t", ["b", "a", "b"], "p")
        XCTAssertEqual(a.components, ["a", "b"])
        XCTAssertEqual(a.id, SHA256Hex.of(Array("1:t,1:2,1:a,1:b,1:p,".utf8)))
        XCTAssertEqual(a.id, signature("t", ["a", "b"], "p").id)
        XCTAssertNotEqual(signature("a", ["b,c"], "d").id, signature("a", ["b", "c"], "d").id)
        XCTAssertNotEqual(signature("a:", [], "b").id, signature("a", [], ":b").id)
    }

    func testPatternPrefixIsAllButTheLastSegment() {
        XCTAssertEqual(signature().patternPrefix, "network-partition:storage")
        XCTAssertNil(signature("t", [], "single").patternPrefix)
    }

    // MARK: - Matching

    func testExactMatchComesFirst() {
        var memory = ImmuneMemory()
        let known = signature()
        _ = memory.learn(outcome(known), at: start)
        // A fuzzy neighbour with a higher rate does not beat the exact entry.
        let neighbour = signature("network-partition", ["storage"], "network-partition:storage:5-nodes")
        _ = memory.learn(outcome(neighbour), at: start)
        _ = memory.learn(outcome(known, false), at: start)
        let (match, _) = memory.match(known, at: start)
        XCTAssertEqual(match?.entry.id, known.id)
        XCTAssertEqual(match?.kind, .exact)
    }

    func testFuzzyMatchByComponentOverlapAtExactly60Percent() {
        var memory = ImmuneMemory()
        let known = signature("disk-full", ["a", "b", "c", "d", "e"], "disk-full:x")
        _ = memory.learn(outcome(known), at: start)
        // 3 shared of max(5, 5): exactly 60%, a match; other pattern prefixes, so only overlap applies.
        let atBoundary = signature("disk-full", ["a", "b", "c", "x", "y"], "other:y")
        let (match, _) = memory.match(atBoundary, at: start)
        XCTAssertEqual(match?.entry.id, known.id)
        XCTAssertEqual(match?.kind, .componentOverlap(0.6))
        // 3 shared of max(5, 6): 50%, no match.
        let below = signature("disk-full", ["a", "b", "c", "x", "y", "z"], "other:y")
        XCTAssertNil(memory.match(below, at: start).match)
        // 2 shared of max(5, 2)... and the denominator is the larger set: 2 of 5 is 40%.
        XCTAssertNil(memory.match(signature("disk-full", ["a", "b"], "other:y"), at: start).match)
        // The same components with another fault type never match.
        XCTAssertNil(memory.match(signature("cpu", ["a", "b", "c", "d", "e"], "disk-full:x"), at: start).match)
    }

    func testFuzzyMatchBySamePatternPrefix() {
        var memory = ImmuneMemory()
        let known = signature("network-partition", ["storage"], "network-partition:storage:3-nodes")
        _ = memory.learn(outcome(known), at: start)
        let other = signature("network-partition", ["api", "db"], "network-partition:storage:7-nodes")
        let (match, _) = memory.match(other, at: start)
        XCTAssertEqual(match?.entry.id, known.id)
        XCTAssertEqual(match?.kind, .patternPrefix)
        XCTAssertNil(memory.match(signature("network-partition", ["api"], "network-partition:compute:3-nodes"), at: start).match)
        XCTAssertNil(memory.match(signature("latency", ["api"], "network-partition:storage:9-nodes"), at: start).match)
    }

    func testHighestSuccessRateWinsAmongFuzzyMatches() {
        var memory = ImmuneMemory()
        let weak = signature("oom", ["api"], "oom:api:small")
        let strong = signature("oom", ["api"], "oom:api:large")
        _ = memory.learn(outcome(weak), at: start)
        _ = memory.learn(outcome(weak, false), at: start)
        _ = memory.learn(outcome(strong), at: start)
        let (match, _) = memory.match(signature("oom", ["api"], "oom:api:medium"), at: start)
        XCTAssertEqual(match?.entry.id, strong.id)
    }

    func testTiesBreakByObservationsThenRecencyThenId() {
        let base = ImmuneMemoryEntry(signature: signature("t", ["a"], "p:1"), actions: [], observations: 1, successRate: 0.5,
                                     firstSeen: start, lastSeen: start, lastApplied: start, lastDecayed: nil,
                                     origin: .run, lastOrigin: .run, lastOriginID: nil)
        var more = base
        more.signature = signature("t", ["a"], "p:2")
        more.observations = 2
        XCTAssertTrue(ImmuneMemory.ranksBefore(more, base))
        var recent = base
        recent.signature = signature("t", ["a"], "p:3")
        recent.lastApplied = start + 1
        XCTAssertTrue(ImmuneMemory.ranksBefore(recent, base))
        var twin = base
        twin.signature = signature("t", ["a"], "p:4")
        XCTAssertEqual(ImmuneMemory.ranksBefore(twin, base), twin.id < base.id)
    }

    // MARK: - Learning

    func testSuccessOfNewSignatureCreatesEntryFailureDoesNot() {
        var memory = ImmuneMemory()
        XCTAssertEqual(memory.learn(outcome(signature(), false), at: start), [])
        XCTAssertEqual(memory.count, 0)
        let changes = memory.learn(outcome(signature(), origin: .chaosExperiment), at: start)
        XCTAssertEqual(changes, [ImmuneMemoryChange(kind: .learned, signatureID: signature().id, time: start, successRate: 1)])
        let entry = try? XCTUnwrap(memory.entry(id: signature().id))
        XCTAssertEqual(entry?.observations, 1)
        XCTAssertEqual(entry?.successRate, 1)
        XCTAssertEqual(entry?.origin, .chaosExperiment)
        XCTAssertEqual(entry?.firstSeen, start)
        XCTAssertEqual(entry?.lastApplied, start)
        XCTAssertEqual(changes.first?.type, "chaos.immune-memory.changed")
    }

    func testEMAUpdatesOnFailureAndSuccess() throws {
        var memory = ImmuneMemory()
        _ = memory.learn(outcome(signature()), at: start)
        let failed = memory.learn(outcome(signature(), false), at: start + 10)
        XCTAssertEqual(failed.map(\.kind), [.reinforced])
        var entry = try XCTUnwrap(memory.entry(id: signature().id))
        XCTAssertEqual(entry.successRate, 0.7, accuracy: 1e-12)  // 0.3·0 + 0.7·1
        XCTAssertEqual(entry.observations, 2)
        XCTAssertEqual(entry.lastApplied, start + 10)
        _ = memory.learn(outcome(signature(), origin: .chaosExperiment), at: start + 20)
        entry = try XCTUnwrap(memory.entry(id: signature().id))
        XCTAssertEqual(entry.successRate, 0.79, accuracy: 1e-12)  // 0.3·1 + 0.7·0.7
        XCTAssertEqual(entry.observations, 3)
        XCTAssertEqual(entry.origin, .run)
        XCTAssertEqual(entry.lastOrigin, .chaosExperiment)
    }

    func testSuccessMergesActionsFailureKeepsThem() throws {
        var memory = ImmuneMemory()
        _ = memory.learn(outcome(signature(), actions: [
            RemediationAction(playbookID: "pb", action: "drain", priority: 2),
            RemediationAction(playbookID: "pb", action: "restart", priority: 1),
        ]), at: start)
        _ = memory.learn(outcome(signature(), false, actions: [RemediationAction(playbookID: "pb", action: "bad", priority: 0)]), at: start)
        XCTAssertEqual(try XCTUnwrap(memory.entry(id: signature().id)).actions.map(\.action), ["restart", "drain"])
        _ = memory.learn(outcome(signature(), actions: [
            RemediationAction(playbookID: "pb", action: "drain", priority: 0, timeout: 5),
            RemediationAction(playbookID: "other", action: "notify", priority: 3),
        ]), at: start)
        let actions = try XCTUnwrap(memory.entry(id: signature().id)).actions
        XCTAssertEqual(actions, [
            RemediationAction(playbookID: "pb", action: "drain", priority: 0, timeout: 5),
            RemediationAction(playbookID: "pb", action: "restart", priority: 1, timeout: 30),
            RemediationAction(playbookID: "other", action: "notify", priority: 3),
        ])
    }

    // MARK: - Decay

    func testDecayHalvesOnceWhenConsultedAfter90Days() throws {
        var memory = ImmuneMemory()
        _ = memory.learn(outcome(signature()), at: start)
        var (match, changes) = memory.match(signature(), at: start + 90 * day - 1)
        XCTAssertEqual(match?.entry.successRate, 1)
        XCTAssertEqual(changes, [])
        (match, changes) = memory.match(signature(), at: start + 90 * day)
        XCTAssertEqual(match?.entry.successRate, 0.5)
        XCTAssertEqual(changes, [ImmuneMemoryChange(kind: .decayed, signatureID: signature().id, time: start + 90 * day, successRate: 0.5)])
        (match, changes) = memory.match(signature(), at: start + 100 * day)
        XCTAssertEqual(match?.entry.successRate, 0.5, "halved once, not at every consultation")
        XCTAssertEqual(changes, [])
        (match, _) = memory.match(signature(), at: start + 180 * day)
        XCTAssertEqual(match?.entry.successRate, 0.25, "another 90 days of disuse halves it again")
    }

    func testApplyingResetsTheDecayClockAndReadingDoesNotConsult() throws {
        var memory = ImmuneMemory()
        _ = memory.learn(outcome(signature()), at: start)
        _ = memory.learn(outcome(signature()), at: start + 50 * day)
        XCTAssertEqual(memory.entry(id: signature().id)?.successRate, 1)
        XCTAssertEqual(memory.match(signature(), at: start + 100 * day).match?.entry.successRate, 1)
        XCTAssertEqual(memory.match(signature(), at: start + 140 * day).match?.entry.successRate, 0.5)
    }

    func testFuzzyCandidatesDecayBeforeTheChoice() {
        var memory = ImmuneMemory()
        let stale = signature("oom", ["api"], "oom:api:a")
        let fresh = signature("oom", ["api"], "oom:api:b")
        _ = memory.learn(outcome(stale), at: start)
        _ = memory.learn(outcome(fresh), at: start + 80 * day)
        _ = memory.learn(outcome(fresh, false), at: start + 80 * day)  // 0.7
        let (match, changes) = memory.match(signature("oom", ["api"], "oom:api:c"), at: start + 95 * day)
        XCTAssertEqual(match?.entry.id, fresh.id, "the stale entry's 1.0 decayed to 0.5 before the choice")
        XCTAssertEqual(changes.map(\.signatureID), [stale.id])
    }

    // MARK: - Bounds

    func testAtCapacityTheLeastRecentlyAppliedIsEvicted() {
        var memory = ImmuneMemory(capacity: 3)
        let signatures = (0..<4).map { signature("t", ["c\($0)"], "p\($0)") }
        _ = memory.learn(outcome(signatures[0]), at: start)
        _ = memory.learn(outcome(signatures[1]), at: start + 1)
        _ = memory.learn(outcome(signatures[2]), at: start + 2)
        _ = memory.learn(outcome(signatures[0], false), at: start + 3)  // applied again: now the most recent
        let changes = memory.learn(outcome(signatures[3]), at: start + 4)
        XCTAssertEqual(changes.map(\.kind), [.evicted, .learned])
        XCTAssertEqual(changes.first?.signatureID, signatures[1].id)
        XCTAssertEqual(Set(memory.entries.map(\.id)), Set([signatures[0], signatures[2], signatures[3]].map(\.id)))
        XCTAssertEqual(ImmuneMemory.defaultCapacity, 10_000)
    }

    func testForgetRemovesByIdOrUniquePrefix() {
        var memory = ImmuneMemory()
        _ = memory.learn(outcome(signature()), at: start)
        XCTAssertNil(memory.forget(id: "nope", at: start))
        let change = memory.forget(id: String(signature().id.prefix(12)), at: start)
        XCTAssertEqual(change, ImmuneMemoryChange(kind: .forgotten, signatureID: signature().id, time: start))
        XCTAssertEqual(change?.data, ["kind": "forgotten", "signature_id": signature().id])
        XCTAssertEqual(memory.count, 0)
    }
}
