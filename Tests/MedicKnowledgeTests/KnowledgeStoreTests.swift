import Foundation
import MedicKnowledge
import XCTest

/// The store on real files, each test in a temporary directory of its own.
final class KnowledgeStoreTests: XCTestCase {
    var root: URL!
    var kb: KnowledgeBase!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kb-\(UUID().uuidString)")
        kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: root.path))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: kb.directory)
        try? FileManager.default.removeItem(at: root)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func contents(_ file: KnowledgeFile) throws -> String {
        try String(contentsOfFile: kb.path(file), encoding: .utf8)
    }

    func write(_ text: String, to file: KnowledgeFile) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: kb.path(file)))
    }

    func testTheFilesOfTheReferenceByName() {
        XCTAssertEqual(KnowledgeFile.allCases.map(\.name), [
            "incident-history.jsonl", "playbook-performance.jsonl", "remediation-effectiveness.jsonl",
            "incident-patterns.jsonl", "root-causes.json", "immune-cures.jsonl",
        ])
        XCTAssertEqual(kb.directory, root.appendingPathComponent("knowledge").path)
        XCTAssertTrue(kb.path(.incidentHistory).hasSuffix("/knowledge/incident-history.jsonl"))
    }

    func testAppendsAreWholeLines() throws {
        try kb.append(bytes(#"{"a":1}"#), to: .incidentHistory)
        try kb.append(bytes(#"{"b":"two"}"#), to: .incidentHistory, durable: false)
        try kb.appendBatch([bytes(#"{"c":3}"#), bytes(#"{"d":[4]}"#)], to: .incidentHistory)
        XCTAssertEqual(try contents(.incidentHistory), "{\"a\":1}\n{\"b\":\"two\"}\n{\"c\":3}\n{\"d\":[4]}\n")
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(records.map { String(decoding: $0, as: UTF8.self) }, [#"{"a":1}"#, #"{"b":"two"}"#, #"{"c":3}"#, #"{"d":[4]}"#])
        XCTAssertEqual(problems, [])
    }

    struct Outcome: Codable, Equatable {
        var playbookID: String
        var note: String
    }

    func testEncodableRecordsStayOnOneLineAndDecode() throws {
        let outcome = Outcome(playbookID: "clean-001", note: "two\nlines / slash")
        try kb.append(encoding: outcome, to: .playbookPerformance)
        try kb.appendBatch(encoding: [outcome, outcome], to: .playbookPerformance)
        XCTAssertEqual(try contents(.playbookPerformance).split(separator: "\n").count, 3)
        let (records, problems) = try kb.read(Outcome.self, from: .playbookPerformance)
        XCTAssertEqual(records, [outcome, outcome, outcome])
        XCTAssertEqual(problems, [])
    }

    func testRefusesARecordThatIsNotOneLineOrNotAnObjectAndChangesNothing() throws {
        try kb.append(bytes(#"{"kept":true}"#), to: .incidentHistory)
        let refused = ["{\"a\":\n1}", "[1,2]", "42", "\"text\"", "{\"a\":", "", "{\"a\":1}\r"]
        for record in refused {
            XCTAssertThrowsError(try kb.append(bytes(record), to: .incidentHistory), "accepted \(record.debugDescription)") { error in
                XCTAssertTrue("\(error)".contains("incident-history.jsonl"), "\(error)")
            }
        }
        // One bad record refuses its whole batch.
        XCTAssertThrowsError(try kb.appendBatch([bytes(#"{"ok":1}"#), bytes("[]")], to: .incidentHistory)) { error in
            XCTAssertTrue("\(error)".contains("record 2 of 2"), "\(error)")
        }
        XCTAssertThrowsError(try kb.append(encoding: [1, 2, 3], to: .incidentHistory)) // an Encodable array, not an object
        XCTAssertEqual(try contents(.incidentHistory), "{\"kept\":true}\n")
    }

    func testTornLastLineIsQuarantinedAndReported() throws {
        try write("{\"a\":1}\n{\"b\":2}\n{\"c\":", to: .incidentHistory)
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(problems.count, 1)
        XCTAssertEqual(problems.first?.kind, .tornLine)
        XCTAssertEqual(problems.first?.line, 3)
        XCTAssertTrue(problems.first?.description.contains(kb.quarantinePath(.incidentHistory)) ?? false, "\(problems)")
        XCTAssertEqual(try contents(.incidentHistory), "{\"a\":1}\n{\"b\":2}\n")
        XCTAssertEqual(try String(contentsOfFile: kb.quarantinePath(.incidentHistory), encoding: .utf8), "{\"c\":\n")

        // Once cut, the file reads clean, and appends go on after the whole lines.
        XCTAssertEqual(try kb.read(.incidentHistory).problems, [])
        try kb.append(bytes(#"{"d":4}"#), to: .incidentHistory)
        XCTAssertEqual(try contents(.incidentHistory), "{\"a\":1}\n{\"b\":2}\n{\"d\":4}\n")

        // A second torn line joins the first in the quarantine file; nothing is overwritten.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: kb.path(.incidentHistory)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"e\":[5,".utf8))
        try handle.close()
        let second = try kb.read(.incidentHistory)
        XCTAssertEqual(second.records.count, 3)
        XCTAssertEqual(second.problems.map(\.line), [4])
        XCTAssertEqual(try String(contentsOfFile: kb.quarantinePath(.incidentHistory), encoding: .utf8), "{\"c\":\n{\"e\":[5,\n")
    }

    func testAnAppendAfterACrashMovesTheTornLineFirst() throws {
        try write("{\"a\":1}\n{\"b\":", to: .incidentHistory)
        let problems = try kb.append(bytes(#"{"c":3}"#), to: .incidentHistory)
        XCTAssertEqual(problems.map(\.kind), [.tornLine])
        XCTAssertTrue(problems[0].description.contains("moved to \(kb.quarantinePath(.incidentHistory))"), problems[0].description)
        XCTAssertEqual(try contents(.incidentHistory), "{\"a\":1}\n{\"c\":3}\n")
        XCTAssertEqual(try String(contentsOfFile: kb.quarantinePath(.incidentHistory), encoding: .utf8), "{\"b\":\n")
        XCTAssertEqual(try kb.append(bytes(#"{"d":4}"#), to: .incidentHistory), [])
    }

    func testAFileOfOnlyATornLineIsEmptiedIntoQuarantine() throws {
        try write("{\"half", to: .incidentPatterns)
        let (records, problems) = try kb.read(.incidentPatterns)
        XCTAssertEqual(records, [])
        XCTAssertEqual(problems.map(\.line), [1])
        XCTAssertEqual(try contents(.incidentPatterns), "")
    }

    func testATornLineThatCannotBeQuarantinedIsReportedAndLeftInPlace() throws {
        try write("{\"a\":1}\n{\"b\":", to: .incidentHistory)
        // The quarantine file cannot be written: a directory stands at its path.
        try FileManager.default.createDirectory(atPath: kb.quarantinePath(.incidentHistory), withIntermediateDirectories: false)
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(problems.map(\.kind), [.tornLine])
        XCTAssertEqual(problems.map(\.line), [2])
        XCTAssertTrue(problems[0].message.contains("not quarantined"), problems[0].message)
        XCTAssertEqual(try contents(.incidentHistory), "{\"a\":1}\n{\"b\":")
    }

    func testCorruptLineInTheMiddleIsSkippedWithItsLineNumber() throws {
        try write("{\"a\":1}\nnot json at all\n{\"b\":2}\n[\"an array\"]\n\n{\"c\":3}\n", to: .remediationEffectiveness)
        var seen: [Int] = []
        let problems = try kb.forEachLine(in: .remediationEffectiveness) { _, number in seen.append(number) }
        XCTAssertEqual(seen, [1, 3, 6])
        XCTAssertEqual(problems.map(\.kind), [.corruptLine, .corruptLine, .corruptLine])
        XCTAssertEqual(problems.map(\.line), [2, 4, 5])
        XCTAssertTrue(problems[0].description.hasPrefix(kb.path(.remediationEffectiveness) + ":2: "), problems[0].description)
        // Skipped, not removed: the file is left as it was.
        XCTAssertEqual(try contents(.remediationEffectiveness).split(separator: "\n", omittingEmptySubsequences: false).count, 7)
    }

    func testLinesLongerThanTheReadBufferStream() throws {
        let long = "{\"pad\":\"" + String(repeating: "y", count: 200_000) + "\"}"
        try kb.appendBatch([bytes(long), bytes(#"{"after":1}"#), bytes(long)], to: .incidentHistory)
        let (records, problems) = try kb.read(.incidentHistory)
        XCTAssertEqual(records.map(\.count), [long.utf8.count, 11, long.utf8.count])
        XCTAssertEqual(problems, [])
    }

    func testAnAbsentFileHasNoRecords() throws {
        let (records, problems) = try kb.read(.incidentPatterns)
        XCTAssertEqual(records, [])
        XCTAssertEqual(problems, [])
    }

    func testAnAbsentDirectoryIsAClearError() {
        let absent = root.appendingPathComponent("nowhere").path
        XCTAssertThrowsError(try KnowledgeBase(directory: absent, create: false)) { error in
            XCTAssertEqual("\(error)", "the knowledge base \(absent) does not exist")
        }
    }

    func testADirectoryThatCannotBeCreatedIsAClearError() throws {
        let file = root.appendingPathComponent("a-file")
        try Data().write(to: file)
        let below = file.appendingPathComponent("knowledge").path
        XCTAssertThrowsError(try KnowledgeBase(directory: below)) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot create the knowledge base \(below): "), "\(error)")
        }
        XCTAssertThrowsError(try KnowledgeBase(directory: file.path)) { error in
            XCTAssertEqual("\(error)", "the knowledge base \(file.path) is not a directory")
        }
    }

    func testAReadOnlyDirectoryRefusesAppendsClearly() throws {
        try XCTSkipIf(geteuid() == 0, "root writes into a read-only directory")
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: kb.directory)
        XCTAssertThrowsError(try kb.append(bytes(#"{"a":1}"#), to: .incidentHistory)) { error in
            XCTAssertEqual("\(error)", "cannot create \(kb.path(.incidentHistory)): Permission denied")
        }
    }

    func testRootCausesIsADocumentReplacedWhole() throws {
        XCTAssertNil(try kb.readDocument(.rootCauses))
        try kb.replaceDocument(bytes(#"{"disk_full":{"category":"infrastructure"}}"#), of: .rootCauses)
        try kb.replaceDocument(bytes(#"{"oom":{}}"#), of: .rootCauses)
        XCTAssertEqual(try kb.readDocument(.rootCauses), bytes(#"{"oom":{}}"#))
        XCTAssertThrowsError(try kb.append(bytes("{}"), to: .rootCauses))
        XCTAssertThrowsError(try kb.replaceDocument(bytes("{"), of: .rootCauses))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: kb.directory), ["root-causes.json"])
    }
}
