import Foundation
import MedicText

/// Folds incident records, one at a time, into `OutcomeStatistics`: memory is bounded by the
/// number of playbooks and steps, plus at most `reservoirCapacity` execution times per playbook
/// for the p95 (exact up to that many runs; beyond, a uniform reservoir sample (Algorithm R)
/// with a fixed seed, so the same file always gives the same figure).
public struct OutcomeStatisticsBuilder: Sendable {
    public static let reservoirCapacity = 10_000

    /// Records before this time (RFC 3339, compared as text: the records' times are UTC in one
    /// fixed-width spelling) are left out.
    public let since: String?

    struct Playbook: Sendable {
        var runs = 0, refused = 0, successes = 0, rollbacks = 0, detected = 0, denied = 0
        var totalTime = 0.0
        var seen = 0
        var times: [Double] = []
        /// By step number; the name is the first one seen for that number.
        var steps: [Int: (name: String, executions: Int, successes: Int)] = [:]
    }

    /// The playbooks, numbered in the order first seen; `numbers` finds them by id, `spellings`
    /// by the bytes of the id as a line wrote it (`add(_:of:)`).
    var playbooks: [Playbook] = []
    var ids: [String] = []
    private var numbers: [String: Int] = [:]
    private var spellings = ByteInterner()
    private let sinceBytes: [UInt8]?
    var incidents = 0, attempted = 0, succeeded = 0, rollbacks = 0, automated = 0, autoResolved = 0
    var needingPeople = 0, detected = 0, denied = 0, chaosRuns = 0
    var detectTotal = 0.0, detectCount = 0, resolveTotal = 0.0, resolveCount = 0
    private var random = SplitMix64(seed: 0x6d65_6469_63)

    public init(since: String? = nil) {
        self.since = since
        // Compared as bytes when both times are ASCII (then byte order is String order).
        sinceBytes = since.flatMap { $0.utf8.allSatisfy { $0 < 0x80 } ? Array($0.utf8) : nil }
    }

    /// Counts `record`, unless it is older than `since`.
    public mutating func add(_ record: IncidentRecord) {
        if let since, record.timestamp < since { return }
        let book = number(of: record.remediation.playbookID)
        let outcome = record.runOutcome
        count(book: book, outcome: outcome, chaos: record.mode == .chaos, automated: record.mode == .automated,
              detected: record.detection.method != .manual,
              escalated: record.metadata.escalated, approvalRequested: record.metadata.approvalRequested,
              denied: record.metadata.denied, timeToDetect: record.detection.timeToDetect,
              timeToResolution: record.resolution.timeToResolution, executionTime: record.remediation.executionTime)
        guard outcome.attempted else { return }
        for step in record.remediation.stepsExecuted {
            if let at = playbooks[book].steps.index(forKey: step.step) {
                playbooks[book].steps.values[at].executions += 1
                if step.succeeded { playbooks[book].steps.values[at].successes += 1 }
            } else {
                playbooks[book].steps[step.step] = (step.name, 1, step.succeeded ? 1 : 0)
            }
        }
    }

    /// Counts the record `facts` were scanned from (`line`), unless it is older than `since`,
    /// exactly as `add(_:)` counts that record. False (nothing counted) when a string of it
    /// cannot be read after all: the caller reads the line the strict way.
    mutating func add(_ facts: IncidentFacts, of line: UnsafeBufferPointer<UInt8>) -> Bool {
        // The scanner checked every escape: a span's text always reads.
        func text(_ span: ByteSpan) -> String? { JSONCursor(line).text(of: span) }
        if let since {
            let raw = UnsafeBufferPointer(rebasing: line[facts.timestamp.start..<facts.timestamp.end])
            if let sinceBytes, !facts.timestamp.escaped, raw.allSatisfy({ $0 < 0x80 }) {
                if raw.lexicographicallyPrecedes(sinceBytes) { return true }
            } else {
                guard let timestamp = text(facts.timestamp) else { return false }
                if timestamp < since { return true }
            }
        }
        // Every string that may still fail to read is read before anything is counted.
        if facts.outcome.attempted {
            for step in facts.steps where step.name.escaped {
                guard text(step.name) != nil else { return false }
            }
        }
        let id = UnsafeBufferPointer(rebasing: line[facts.playbookID.start..<facts.playbookID.end])
        let hash = ByteInterner.hash(id)
        let book: Int
        if let known = spellings.number(of: id, hash: hash) {
            book = known
        } else {
            guard let name = text(facts.playbookID) else { return false }
            book = number(of: name)
            spellings.insert(id, hash: hash, number: book)
        }
        count(book: book, outcome: facts.outcome, chaos: facts.chaos, automated: facts.automated, detected: facts.detected,
              escalated: facts.escalated, approvalRequested: facts.approvalRequested, denied: facts.denied,
              timeToDetect: facts.timeToDetect, timeToResolution: facts.timeToResolution, executionTime: facts.executionTime)
        guard facts.outcome.attempted else { return true }
        for step in facts.steps {
            if let at = playbooks[book].steps.index(forKey: step.step) {
                playbooks[book].steps.values[at].executions += 1
                if step.succeeded { playbooks[book].steps.values[at].successes += 1 }
            } else {
                playbooks[book].steps[step.step] = (text(step.name)!, 1, step.succeeded ? 1 : 0)
            }
        }
        return true
    }

    mutating func number(of id: String) -> Int {
        if let known = numbers[id] { return known }
        playbooks.append(Playbook())
        ids.append(id)
        numbers[id] = playbooks.count - 1
        return playbooks.count - 1
    }

    /// Everything of one record but its steps. A chaos run counts in its playbook's figures only:
    /// it was a test, not an incident, so the KPIs leave it out.
    private mutating func count(book: Int, outcome: IncidentRecord.RunOutcome, chaos: Bool, automated isAutomated: Bool, detected isDetected: Bool,
                                escalated: Bool, approvalRequested: Bool, denied isDenied: Bool, timeToDetect: Double?,
                                timeToResolution: Double?, executionTime: Double) {
        if chaos {
            chaosRuns += 1
            countPlaybook(book: book, outcome: outcome, executionTime: executionTime)
            return
        }
        incidents += 1
        // Every incident is at most one of: handled by Medic alone (an automated run that no
        // person had to approve, take over or unblock), or needing people after the start. So
        // the automation and manual intervention rates add up to 100% at most (manual runs that
        // needed nobody afterwards are in neither).
        let needsPeople = escalated || approvalRequested || outcome == .refused
        if needsPeople { needingPeople += 1 }
        if isAutomated && !needsPeople {
            automated += 1
            if outcome == .succeeded { autoResolved += 1 }
        }
        if isDetected {
            detected += 1
            if isDenied { denied += 1 }
        }
        if let timeToDetect {
            detectTotal += timeToDetect
            detectCount += 1
        }
        if let timeToResolution {
            resolveTotal += timeToResolution
            resolveCount += 1
        }
        if isDetected {
            playbooks[book].detected += 1
            if isDenied { playbooks[book].denied += 1 }
        }
        if outcome.attempted {
            attempted += 1
            if outcome == .succeeded { succeeded += 1 }
            if outcome.rolledBack { rollbacks += 1 }
        }
        countPlaybook(book: book, outcome: outcome, executionTime: executionTime)
    }

    /// The playbook's own figures of one record.
    private mutating func countPlaybook(book: Int, outcome: IncidentRecord.RunOutcome, executionTime: Double) {
        guard outcome.attempted else {
            playbooks[book].refused += 1
            return
        }
        playbooks[book].runs += 1
        if outcome == .succeeded { playbooks[book].successes += 1 }
        if outcome.rolledBack { playbooks[book].rollbacks += 1 }
        playbooks[book].totalTime += executionTime
        sample(executionTime, book: book)
    }

    /// Puts one execution time of `book` in its reservoir.
    mutating func sample(_ executionTime: Double, book: Int) {
        playbooks[book].seen += 1
        if playbooks[book].times.count < Self.reservoirCapacity {
            playbooks[book].times.append(executionTime)
        } else {
            let slot = Int(random.next() % UInt64(playbooks[book].seen))
            if slot < Self.reservoirCapacity { playbooks[book].times[slot] = executionTime }
        }
    }

    /// The statistics of the records added so far.
    public func result() -> OutcomeStatistics {
        let kpis = KPIs(
            incidents: incidents, attempted: attempted,
            mttd: detectCount == 0 ? nil : detectTotal / Double(detectCount),
            mttr: resolveCount == 0 ? nil : resolveTotal / Double(resolveCount),
            autoRemediationSuccessRate: rate(autoResolved, incidents),
            remediationAccuracy: rate(succeeded, attempted),
            rollbackRate: rate(rollbacks, attempted),
            automationRate: rate(automated, incidents),
            manualInterventionRate: rate(needingPeople, incidents),
            falsePositiveRate: rate(denied, detected), chaosRuns: chaosRuns)
        let books = ids.indices.sorted { ids[$0] < ids[$1] }.map { number -> PlaybookStatistics in
            let id = ids[number], book = playbooks[number]
            return PlaybookStatistics(
                playbookID: id, runs: book.runs, refused: book.refused, successes: book.successes,
                successRate: rate(book.successes, book.runs), rollbackRate: rate(book.rollbacks, book.runs),
                falsePositiveRate: rate(book.denied, book.detected),
                averageExecutionTime: book.runs == 0 ? nil : book.totalTime / Double(book.runs),
                p95ExecutionTime: nearestRankPercentile(0.95, of: book.times),
                steps: book.steps.keys.sorted().map { n in
                    let s = book.steps[n]!
                    return .init(step: n, name: s.name, executions: s.executions, successes: s.successes,
                                 successRate: rate(s.successes, s.executions))
                })
        }
        return OutcomeStatistics(since: since, kpis: kpis, playbooks: books)
    }
}

extension KnowledgeBase {
    /// The statistics of `incident-history.jsonl` (records at or after `since`), streamed a line
    /// at a time, with the problems found (a torn last line, lines that are not incident records).
    /// The figures of records `medic prune` took out (`PrunedIncidentLedger`) are added in when
    /// every one of a prune's records is at or after `since` (always without `since`).
    public func incidentStatistics(since: String? = nil) throws -> (statistics: OutcomeStatistics, problems: [KnowledgeProblem]) {
        // A prune that replaces the history between its open and the ledger's read is seen by
        // the history no longer being the file named: read again (a prune holds the history's
        // lock while it writes, so this settles at once).
        for _ in 0..<8 {
            if let result = try incidentStatisticsOnce(since: since) { return result }
        }
        throw KnowledgeError("\(path(.incidentHistory)) kept being replaced while it was read")
    }

    private func incidentStatisticsOnce(since: String?) throws -> (statistics: OutcomeStatistics, problems: [KnowledgeProblem])? {
        var builder = OutcomeStatisticsBuilder(since: since)
        var undecodable: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        let file = KnowledgeFile.incidentHistory
        var facts = IncidentFacts()
        let ledger = PrunedIncidentLedger(knowledgeDirectory: directory)
        // Most lines are read in place by the scanner, which checks the whole record and keeps
        // only what statistics count. Any other line goes the strict way of every reader (the
        // small parser, else JSONDecoder), which counts it or says why it is not a record. (The
        // store's own JSON check is not run: it would only scan each line a second time.)
        let problems: [KnowledgeProblem]
        do {
            problems = try LineReader.forEachLineInPlace(in: path(file), opened: { fd in
                undecodable += try addPrunedFigures(to: &builder, historyDescriptor: fd, ledger: ledger)
            }) { line, number in
                if IncidentLineScanner.scan(line, into: &facts), builder.add(facts, of: line) { return }
                let bytes = Array(line)
                do {
                    builder.add(try IncidentRecord(fastJSON: bytes[...]) ?? decoder.decode(IncidentRecord.self, from: Data(bytes)))
                } catch {
                    undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                        message: "not an incident record (\(Self.reason(error))); line skipped"))
                }
            }
        } catch is HistoryReplaced {
            return nil
        }
        return (builder.result(), (problems + undecodable).sorted { $0.line < $1.line })
    }

    private struct HistoryReplaced: Error {}

    /// Adds the ledger's figures that count for the history open on `fd` (-1: there is none)
    /// and whose records are all at or after the builder's `since`. Under the writers' lock
    /// (shared), the ledger matches the history opened: a prune holds it from before it writes
    /// its entry to after it has replaced the history. A ledger that cannot be read is reported.
    private func addPrunedFigures(to builder: inout OutcomeStatisticsBuilder, historyDescriptor fd: Int32,
                                  ledger: PrunedIncidentLedger) throws -> [KnowledgeProblem] {
        let history = path(.incidentHistory)
        if fd >= 0 {
            while flock(fd, LOCK_SH) != 0 {
                guard errno == EINTR else { throw LineAppender.fault("cannot lock", history) }
            }
        }
        defer { if fd >= 0 { _ = flock(fd, LOCK_UN) } }
        if fd >= 0, !LineAppender.isCurrent(fd, path: history) { throw HistoryReplaced() }
        let inode = fd >= 0 ? PrunedIncidentLedger.inode(of: fd) ?? 0 : 0
        do {
            for entry in try ledger.counted(historyInode: inode) where builder.since.map({ entry.from >= $0 }) ?? true {
                builder.add(entry.figures)
            }
            return []
        } catch {
            return [KnowledgeProblem(kind: .corruptLine, path: ledger.path, line: 0,
                                     message: "\(error); the figures of pruned incident records are not counted")]
        }
    }
}

/// A small deterministic generator (Steele, Lea & Flood's SplitMix64) for the reservoir.
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
