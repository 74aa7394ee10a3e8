import Foundation
@testable import MedicKnowledge
import MedicText
import XCTest

/// `incidentStatistics` reads most lines with `IncidentLineScanner` and the rest the strict way;
/// over a file of every shape a record may take (and lines that are not records), it must give
/// exactly the statistics and problems of decoding each line with JSONDecoder.
final class IncidentStatisticsEquivalenceTests: XCTestCase {
    /// A JSON value written by hand, so each line can be spelled in odd but valid ways.
    private indirect enum JSON {
        case object([(String, JSON)]), array([JSON]), string(String), number(String), integer(Int), bool(Bool), null
    }

    private struct Spelling {
        var shuffle = false, spaces = false, unknownKeys = false, nulls = false, escapeAll = false
        var numbers: (Double) -> String = { "\($0)" }
    }

    private var generator = SplitMix64(seed: 7)

    private func record(_ n: Int) -> IncidentRecord {
        let playbooks = ["p-001", "p-002", "caf\u{E9}", "cafe\u{301}", "q\"uote\\d/slash", "\u{1F525}-fire", "tab\there"]
        let outcomes = IncidentRecord.RunOutcome.allCases
        let outcome = outcomes[n % outcomes.count]
        let watched = n % 3 != 0
        let steps = outcome == .refused ? [] : (1...(1 + n % 3)).map { s in
            IncidentRecord.StepExecuted(step: s, name: ["restart", "scale \u{2713}", "drain\n\"node\""][(s + n / 7) % 3],
                                        target: n % 2 == 0 ? "host-\(s)" : nil, succeeded: (n + s) % 4 != 0, attempts: 1 + s % 2,
                                        duration: n % 5 == 0 ? nil : Double(s) * 1.25)
        }
        let time = String(format: "2026-03-%02dT%02d:00:00.000Z", 1 + n % 28, n % 24)
        return IncidentRecord(
            incidentID: "inc-\(n)", timestamp: time, endedAt: time, runID: "run-\(n)", mode: watched ? .automated : .manual,
            runOutcome: outcome,
            detection: .init(method: watched ? [.anomalyDetection, .healthCheck, .alert][n % 3] : .manual, detectionTime: time,
                             timeToDetect: watched ? Double(n % 97) / 8 : nil, initialSeverity: n % 4 == 0 ? "SEV2" : nil,
                             rule: watched ? "rule-\(n % 5)" : nil),
            classification: .init(category: n % 2 == 0 ? "infrastructure" : nil, affectedComponents: n % 3 == 0 ? [] : ["svc"]),
            remediation: .init(playbookID: playbooks[n % playbooks.count], playbookVersion: "1.0.\(n % 3)",
                               executionTime: [0.1, 12.5, 1e-3, 3600, 0.30000000000000004, 123456.789][n % 6] + Double(n % 11),
                               stepsExecuted: steps,
                               outcome: outcome == .refused ? nil : outcome == .succeeded ? .success : [.failed, .partialSuccess][n % 2]),
            impact: .init(duration: n % 2 == 0 ? Double(n) / 3 : nil, servicesAffected: n % 2 == 0 ? ["web"] : [],
                          usersAffected: n % 5 == 0 ? n * 100 : nil),
            resolution: .init(resolutionMethod: outcome == .rolledBack ? .rollback : watched ? .autoRemediation : .manual,
                              timeToResolution: outcome == .succeeded ? Double(n % 13) * 7.5 : nil,
                              verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: outcome == .escalated, approvalRequested: n % 6 == 1, denied: watched && n % 5 == 2,
                            environment: n % 2 == 0 ? "prod" : nil, host: nil))
    }

    /// The record as its Codable keys spell it, with every optional field present (null when nil).
    private func tree(_ r: IncidentRecord) -> JSON {
        func string(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        func number(_ d: Double?) -> JSON { d.map { .number("\($0)") } ?? .null }
        func int(_ i: Int?) -> JSON { i.map { .integer($0) } ?? .null }
        return .object([
            ("v", .integer(1)), ("incident_id", .string(r.incidentID)), ("timestamp", .string(r.timestamp)),
            ("ended_at", .string(r.endedAt)), ("run_id", .string(r.runID)), ("mode", .string(r.mode.rawValue)),
            ("run_outcome", .string(r.runOutcome.rawValue)),
            ("detection", .object([("method", .string(r.detection.method.rawValue)), ("detection_time", .string(r.detection.detectionTime)),
                                   ("time_to_detect", number(r.detection.timeToDetect)),
                                   ("initial_severity", string(r.detection.initialSeverity)), ("rule", string(r.detection.rule))])),
            ("classification", .object([("category", string(r.classification.category)), ("root_cause", string(r.classification.rootCause)),
                                        ("affected_components", .array(r.classification.affectedComponents.map { .string($0) })),
                                        ("blast_radius", string(r.classification.blastRadius))])),
            ("remediation", .object([
                ("playbook_id", .string(r.remediation.playbookID)), ("playbook_version", .string(r.remediation.playbookVersion)),
                ("execution_time", number(r.remediation.executionTime)),
                ("steps_executed", .array(r.remediation.stepsExecuted.map { s in
                    .object([("step", int(s.step)), ("name", .string(s.name)), ("target", string(s.target)), ("succeeded", .bool(s.succeeded)),
                             ("attempts", int(s.attempts)), ("duration", number(s.duration))])
                })),
                ("outcome", string(r.remediation.outcome?.rawValue)),
            ])),
            ("impact", .object([("duration", number(r.impact.duration)), ("services_affected", .array(r.impact.servicesAffected.map { .string($0) })),
                                ("users_affected", int(r.impact.usersAffected))])),
            ("resolution", .object([("resolution_method", .string(r.resolution.resolutionMethod.rawValue)),
                                    ("time_to_resolution", number(r.resolution.timeToResolution)),
                                    ("verification_passed", .bool(r.resolution.verificationPassed))])),
            ("metadata", .object([("escalated", .bool(r.metadata.escalated)), ("approval_requested", .bool(r.metadata.approvalRequested)),
                                  ("denied", .bool(r.metadata.denied)), ("environment", string(r.metadata.environment)),
                                  ("host", string(r.metadata.host))])),
        ])
    }

    private func render(_ value: JSON, _ how: Spelling) -> String {
        let space = how.spaces ? " \t" : ""
        switch value {
        case .object(var members):
            if !how.nulls { members.removeAll { if case .null = $0.1 { true } else { false } } }
            if how.unknownKeys {
                members.append(("x-unknown", .object([("nested", .array([.number("-1.5E+3"), .bool(false), .null, .string("\u{0}?")]))])))
            }
            if how.shuffle {
                for k in stride(from: members.count - 1, to: 0, by: -1) {
                    members.swapAt(k, Int(generator.next() % UInt64(k + 1)))
                }
            }
            var parts: [String] = []
            for member in members {
                var inner = how
                if member.0 == "x-unknown" { inner.unknownKeys = false }
                parts.append(quote(member.0, escapeAll: false) + space + ":" + space + render(member.1, inner))
            }
            return "{" + space + parts.joined(separator: space + "," + space) + space + "}"
        case .array(let items):
            var parts: [String] = []
            for item in items { parts.append(render(item, how)) }
            return "[" + space + parts.joined(separator: "," + space) + space + "]"
        case .string(let s): return quote(s, escapeAll: how.escapeAll)
        case .number(let text): return Double(text).map(how.numbers) ?? text
        case .integer(let n): return "\(n)"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    /// `s` as a JSON string; `escapeAll` spells every non-ASCII character and `/` as escapes.
    private func quote(_ s: String, escapeAll: Bool) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += escapeAll ? "\\u0009" : "\\t"
            case "/" where escapeAll: out += "\\/"
            case _ where scalar.value < 0x20 || (escapeAll && scalar.value > 0x7E):
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Every kind of line: records in many spellings (read by the scanner), records it leaves to
    /// the strict path, and lines that are not records.
    private func mixedLines() throws -> [[UInt8]] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let spellings: [Spelling] = [
            Spelling(),
            Spelling(shuffle: true, spaces: true),
            Spelling(shuffle: true, unknownKeys: true, nulls: true),
            Spelling(nulls: true, escapeAll: true, numbers: { String(format: "%.17e", $0) }),
            Spelling(spaces: true, escapeAll: true, numbers: { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) + ".000" : "\($0)" }),
            Spelling(shuffle: true, numbers: { "\($0 * 1000)E-3" }),
        ]
        var lines: [String] = []
        for n in 0..<420 {
            let r = record(n)
            if n % 7 == 0 {
                lines.append(String(decoding: try encoder.encode(r), as: UTF8.self))
            } else {
                lines.append(render(tree(r), spellings[n % spellings.count]))
            }
        }
        // record(0): manual, succeeded, one step ("scale ✓", succeeded, 2 attempts), no components.
        let plain = String(decoding: try encoder.encode(record(0)), as: UTF8.self)
        func variant(_ old: String, _ new: String) -> String {
            precondition(plain.contains(old), old)
            return plain.replacingOccurrences(of: old, with: new)
        }
        // A surrogate pair: read by the scanner.
        lines.append(variant(#""name":"scale ✓""#, #""name":"scale \ud83d\ude00""#))
        lines += [
            // Valid records the scanner leaves to the strict path.
            variant(#""v":1"#, #""\u0076":1"#),                                      // an escaped key
            variant(#""attempts":2"#, #""attempts":2.0"#),                           // an integer with a fraction
            variant(#""run_outcome":"succeeded""#, #""run_outcome":"succ\u0065eded""#),
            variant(#""v":1"#, #""v":1,"v":1"#),                                     // a repeated key
            variant(#""execution_time":"#, #""execution_time":1e400,"execution_time":"#),
            variant(#""v":1"#, #""v":2"#),                                           // JSONDecoder reads any v
            variant(#""affected_components":[]"#,                                    // deep nesting
                    #""affected_components":[],"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#),
            // Lines that are not incident records.
            "", "   ", "[]", "{}", "null", #"{"v":1"#, plain + " trailing", plain + ",",
            variant(#","v":1"#, ""),                                                 // missing v
            variant(#""run_id":"run-0","#, ""),                                      // missing a required string
            variant(#""succeeded":true"#, #""succeeded":"true""#),                   // wrong type
            variant(#""attempts":2"#, #""attempts":null"#),                          // null for a required field
            variant(#""mode":"manual""#, #""mode":"robot""#),                        // unknown enum value
            variant(#""name":"scale ✓""#, #""name":"\ud800""#),                      // a lone surrogate
            variant(#""name":"scale ✓""#, "\"name\":\"sc\u{1}ale\""),                // a control character
            variant(#""name":"scale ✓""#, #""name":"\x""#),                          // an unknown escape
            variant(#""execution_time":0.1"#, #""execution_time":-"#),
            variant(#""execution_time":"#, #""execution_time":+"#),
            variant(#""affected_components":[]"#, #""affected_components":["svc",]"#),
            variant(#""affected_components":[]"#, #""affected_components":"svc""#),
            variant(#""execution_time":"#, #""execution_time":0"#),                  // 01…: a leading zero
            variant(#""execution_time":"#, #""execution_time":."#),
            variant(#""attempts":2"#, #""attempts":2."#),                           
            variant(#""v":1"#, #""v":2,"v":1"#),                                     // repeated, and which one counts matters
        ]
        var bytes = lines.map { Array($0.utf8) }
        // Bytes that are not UTF-8 (a lone continuation byte, an overlong "/", a UTF-8 surrogate).
        for bad: [UInt8] in [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x9C]] {
            bytes.append(Array(plain.replacingOccurrences(of: "scale ✓", with: "scale \u{1}").utf8)
                .split(separator: 1, omittingEmptySubsequences: false).joined(separator: bad).map { $0 })
        }
        return bytes
    }

    private func knowledgeBase(_ lines: [[UInt8]]) throws -> KnowledgeBase {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stats-eq-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let knowledge = try KnowledgeBase(directory: dir)
        try Data(lines.map { $0 + [0x0A] }.joined()).write(to: URL(fileURLWithPath: knowledge.path(.incidentHistory)))
        return knowledge
    }

    /// What reading each line with JSONDecoder gives.
    private func reference(_ lines: [[UInt8]], since: String?, path: String) -> (OutcomeStatistics, [KnowledgeProblem]) {
        var builder = OutcomeStatisticsBuilder(since: since)
        var problems: [KnowledgeProblem] = []
        for (index, line) in lines.enumerated() {
            do {
                builder.add(try JSONDecoder().decode(IncidentRecord.self, from: Data(line)))
            } catch {
                problems.append(KnowledgeProblem(kind: .corruptLine, path: path, line: index + 1,
                                                 message: "not an incident record (\(KnowledgeBase.reason(error))); line skipped"))
            }
        }
        return (builder.result(), problems)
    }

    func testStatisticsOverAMixedFileEqualThoseOfJSONDecoderRecords() throws {
        let lines = try mixedLines()
        let knowledge = try knowledgeBase(lines)
        for since in [nil, "2026-03-15T00:00:00.000Z", "2026-03-15T00:00:00.000\u{E9}"] {
            let (statistics, problems) = try knowledge.incidentStatistics(since: since)
            let (expected, expectedProblems) = reference(lines, since: since, path: knowledge.path(.incidentHistory))
            XCTAssertEqual(statistics, expected, "since \(since ?? "nil")")
            XCTAssertEqual(problems.map(\.line), expectedProblems.map(\.line))
            XCTAssertEqual(problems, expectedProblems)
            XCTAssertGreaterThan(statistics.kpis.incidents, 0)
        }
        // The odd playbook ids (an escape, NFC and NFD spellings of one name) each count once.
        let ids = try knowledge.incidentStatistics().statistics.playbooks.map(\.playbookID)
        XCTAssertEqual(ids.count, 6, "\(ids)")
    }

    func testTheScannerReadsMostLinesAndLeavesTheOddOnesToTheStrictPath() throws {
        let lines = try mixedLines()
        var facts = IncidentFacts()
        var scanned = 0, left: [String] = []
        for bytes in lines {
            let accepted = bytes.withUnsafeBufferPointer { IncidentLineScanner.scan($0, into: &facts) }
            let decoded = try? JSONDecoder().decode(IncidentRecord.self, from: Data(bytes))
            let generated = lines.firstIndex(of: bytes)! < 421
            if accepted != generated, left.count < 3 { left.append(String(decoding: bytes, as: UTF8.self)) }
            guard accepted else { continue }
            scanned += 1
            // What the scanner accepts is a record, and it read its figures as JSONDecoder does.
            let record = try XCTUnwrap(decoded, String(decoding: bytes, as: UTF8.self))
            try bytes.withUnsafeBufferPointer { b in
                func text(_ span: ByteSpan) throws -> String { JSONCursor(b).text(of: span) }
                XCTAssertEqual(try text(facts.timestamp), record.timestamp)
                XCTAssertEqual(try text(facts.playbookID), record.remediation.playbookID)
                XCTAssertEqual(facts.outcome, record.runOutcome)
                XCTAssertEqual(facts.automated, record.mode == .automated)
                XCTAssertEqual(facts.detected, record.detection.method != .manual)
                XCTAssertEqual(facts.timeToDetect, record.detection.timeToDetect)
                XCTAssertEqual(facts.timeToResolution, record.resolution.timeToResolution)
                XCTAssertEqual(facts.executionTime, record.remediation.executionTime)
                XCTAssertEqual([facts.escalated, facts.approvalRequested, facts.denied],
                               [record.metadata.escalated, record.metadata.approvalRequested, record.metadata.denied])
                XCTAssertEqual(facts.steps.map(\.step), record.remediation.stepsExecuted.map(\.step))
                XCTAssertEqual(facts.steps.map(\.succeeded), record.remediation.stepsExecuted.map(\.succeeded))
                XCTAssertEqual(try facts.steps.map { try text($0.name) }, record.remediation.stepsExecuted.map(\.name))
            }
        }
        XCTAssertEqual(scanned, 421, "every record of the generated spellings (and the surrogate pair) is read by the scanner, nothing else; not so: \(left)")
    }

    func testNumbersReadAsDoubleReadsThem() throws {
        let texts = ["0", "-0", "0.1", "0.30000000000000004", "1e-3", "1E+22", "1e23", "9007199254740993", "123456.789e-2",
                     "4.9406564584124654e-324", "1.7976931348623157e308", "0.000000000000000000000000000001", "12345678901234567890.5",
                     "2.2250738585072011e-308", "100000000000000000000000", "5e-324", "-61.5", "3600.000"]
        for text in texts {
            var line = String(decoding: try JSONEncoder().encode(record(1)), as: UTF8.self)
            line = line.replacingOccurrences(of: #""execution_time":"#, with: #""execution_time":\#(text),"x":"#)
            var facts = IncidentFacts()
            let accepted = Array(line.utf8).withUnsafeBufferPointer { IncidentLineScanner.scan($0, into: &facts) }
            XCTAssertTrue(accepted, text)
            XCTAssertEqual(facts.executionTime.bitPattern, try XCTUnwrap(Double(text)).bitPattern, text)
        }
    }

    func testATornLastLineIsQuarantinedAndReportedAfterTheWholeLines() throws {
        let encoder = JSONEncoder()
        let whole = try (0..<3).map { Array(try encoder.encode(record($0))) }
        let knowledge = try knowledgeBase(whole)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: knowledge.path(.incidentHistory)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"v":1,"incident"#.utf8))
        try handle.close()
        let (statistics, problems) = try knowledge.incidentStatistics()
        XCTAssertEqual(statistics.kpis.incidents, 3)
        XCTAssertEqual(problems.map(\.kind), [.tornLine])
        XCTAssertEqual(problems.map(\.line), [4])
        XCTAssertEqual(try String(contentsOfFile: knowledge.quarantinePath(.incidentHistory), encoding: .utf8), "{\"v\":1,\"incident\n")
        XCTAssertEqual(try knowledge.incidentStatistics().problems, [])
    }

    func testLinesAcrossAndLongerThanTheReadBufferAreRead() throws {
        let encoder = JSONEncoder()
        var lines: [[UInt8]] = []
        var size = 0
        var n = 0
        // Past two buffers of ordinary lines, then one line of 3 MiB (an unknown key's value).
        while size < 2 * LineReader.inPlaceChunkSize + 4096 {
            lines.append(Array(try encoder.encode(record(n))))
            size += lines[n].count + 1
            n += 1
        }
        let huge = String(decoding: try encoder.encode(record(n)), as: UTF8.self)
        lines.append(Array(huge.replacingOccurrences(of: #""v":1"#, with: #""v":1,"note":"\#(String(repeating: "x", count: 3 << 20))""#).utf8))
        lines.append(Array(try encoder.encode(record(n + 1))))
        let knowledge = try knowledgeBase(lines)
        let (statistics, problems) = try knowledge.incidentStatistics()
        XCTAssertEqual(problems, [])
        XCTAssertEqual(statistics, reference(lines, since: nil, path: knowledge.path(.incidentHistory)).0)
        XCTAssertEqual(statistics.kpis.incidents, lines.count)
    }
}
