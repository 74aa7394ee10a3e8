import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The readers refuse what their grammar refuses and type every plain value by one schema,
/// YAML 1.2 core (docs/format.md, "Common rules").
final class StrictReaderTests: XCTestCase {
    private func diagnostics(_ name: String, _ text: String) -> [Diagnostic] {
        CatalogLoader().load(documents: [(name, Array(text.utf8))]).diagnostics
    }

    /// A rules file whose one rule has the given ewma `params`.
    private func ewma(_ params: String) -> String {
        "rules:\n  - name: r\n    metric: m\n    detector: ewma\n    params: {\(params)}\n    severity: medium\n"
    }

    func testJSONNumbersFollowRFC8259Exactly() {
        for number in ["-01", "-012", "1.", "-2.", "0.e1", "2.e3", "2.e+3", "2.e-3", "-.123", "-00", "-0.e1", "-00.5",
                       "01", "+1", ".5", "1e", "1e+", "--1", "1.5.2"] {
            let found = diagnostics("n.json", #"{"rules": [], "x": "# + number + "}")
            XCTAssertEqual(found.map(\.code), [.jsonSyntax], "\(number): \(describe(found))")
            XCTAssertEqual(found.first?.location.line, 1, number)
            XCTAssertEqual(found.first?.location.column, 20, "the column of \(number)")
        }
        for number in ["0", "-0", "0.5", "-0.5e-3", "1E+2", "10", "123.456e7", "0e0"] {
            let found = diagnostics("n.json", #"{"rules": [], "x": "# + number + "}")
            XCTAssertFalse(found.contains { $0.code == .jsonSyntax }, "\(number): \(describe(found))")
        }
    }

    func testNumbersAreTypedByYAML12CoreWhatEverTheirLength() {
        XCTAssertEqual(diagnostics("r.yaml", ewma("alpha: 1.0000000000000000000000000001e-300, threshold: 3, warmup: 30")), [])
        XCTAssertEqual(diagnostics("r.yaml", ewma("alpha: +.5, threshold: 0x3, warmup: 0o36")), [])
        // `1_000` is text in YAML 1.2 core: not a whole number.
        let underscored = diagnostics("r.yaml", ewma("alpha: 0.5, threshold: 3, warmup: 1_000"))
        XCTAssertEqual(underscored.map(\.code), [.wrongType], describe(underscored))
        XCTAssertEqual(underscored.first?.hint, "YAML 1.2 reads '1_000' as text; write it without '_': 1000")
        // Infinities are floats, which no finite parameter takes.
        for infinity in ["-.Inf", "+.Inf", "-.INF", "+.INF", ".inf"] {
            let found = diagnostics("r.yaml", ewma("alpha: 0.5, threshold: \(infinity), warmup: 30"))
            XCTAssertEqual(found.map(\.code), [.outOfRange], "\(infinity): \(describe(found))")
        }
    }

    func testTextThatAnyYAMLReadsAsANumberIsRefusedWhereTextIsExpected() {
        for value in ["1.0000000000000000000000000001e-300", "-.Inf", "+.INF", "1e3", "0x1F", "1_000"] {
            let text = "playbook_id: p\nname: \(value)\nversion: \"1\"\ncategory: network\nseverity: low\nremediation_steps: []\n"
            let found = diagnostics("typing.yaml", text).filter { $0.code == .implicitTyping }
            XCTAssertEqual(found.count, 1, "name: \(value): \(describe(found))")
            XCTAssertTrue(found.first?.message.contains("a number") == true, found.first?.message ?? "")
        }
    }

    func testCoreTagsAreAppliedOrRefusedNeverIgnored() {
        XCTAssertEqual(diagnostics("r.yaml", ewma(#"alpha: !!float "0.5", threshold: !!int "3", warmup: !!int 30"#)), [])
        let action = "actions:\n  noop:\n    type: infrastructure\n    risk_level: low\n    implementation: \"true\"\n    idempotent: !!bool \"false\"\n"
        let found = CatalogLoader().load(documents: [("a.yaml", Array(action.utf8))])
        XCTAssertEqual(found.diagnostics, [], describe(found.diagnostics))
        XCTAssertEqual(found.catalog.actions.first?.idempotent, false, "!!bool \"false\" is false")
        for tagged in ["!!int abc", "!!bool yes", "!!null x", "!!float 1.2.3", "!!seq abc"] {
            let found = diagnostics("t.yaml", "rules:\n  - name: r\n    metric: \(tagged)\n")
            XCTAssertEqual(found.map(\.code), [.wrongType], "\(tagged): \(describe(found))")
            XCTAssertEqual(found.first?.location.line, 3, tagged)
            XCTAssertEqual(found.first?.location.column, 13, tagged)
        }
        let list = diagnostics("t.yaml", "rules: !!map [a]\n")
        XCTAssertEqual(list.map(\.code), [.wrongType], describe(list))
        // `!!float 30` is the number 30.0, not a whole number.
        let float = diagnostics("r.yaml", ewma("alpha: 0.5, threshold: 3, warmup: !!float 30"))
        XCTAssertEqual(float.map(\.code), [.wrongType], describe(float))
    }

    func testKeysAreNamesNotNumbersOrNull() {
        let numbers = diagnostics("k.yaml", "x: {1: a, \"1\": b}\n")
        XCTAssertEqual(numbers.map(\.code), [.implicitTyping], describe(numbers))
        XCTAssertEqual(numbers.first?.hint, "quote it: \"1\"")
        let nulls = diagnostics("k.yaml", "x: {null: a, ~: b}\n")
        XCTAssertEqual(nulls.map(\.code), [.implicitTyping, .implicitTyping], describe(nulls))
        XCTAssertEqual(nulls.map(\.location.column), [5, 14])
        let duplicates = diagnostics("k.yaml", "x: {a: 1, 'a': 2}\n")
        XCTAssertEqual(duplicates.map(\.code), [.duplicateKey], describe(duplicates))
    }

    func testAnAliasInsideItsOwnNodeSaysSo() {
        for text in ["x: &a [*a]\n", "x: &a {k: *a}\n", "x: &a [1, [2, *a]]\n"] {
            let found = diagnostics("self.yaml", text)
            XCTAssertEqual(found.map(\.code), [.aliasExpansion], describe(found))
            XCTAssertEqual(found.first?.message, "alias '*a' refers to the node that contains it", text)
        }
        let undefined = diagnostics("undefined.yaml", "x: [*b]\n")
        XCTAssertEqual(undefined.first?.message, "alias '*b' names no anchor defined before it")
        XCTAssertEqual(diagnostics("ok.yaml", ewma("alpha: &a 0.5, threshold: *a, warmup: 30")), [])
    }

    func testWholeFileFaultsArePlacedAtTheFirstLine() {
        let limits = InputLimits(maxFileSize: 4)
        for (name, bytes, reader) in [("empty.yaml", [UInt8](), CatalogLoader()), ("blank.json", Array(" \n".utf8), CatalogLoader()),
                                       ("big.yaml", Array("rules: []\n".utf8), CatalogLoader(limits: limits))] {
            let found = reader.load(documents: [(name, bytes)]).diagnostics
            XCTAssertEqual(found.count, 1, describe(found))
            XCTAssertEqual(found.first?.location.line, 1, name)
            XCTAssertEqual(found.first?.location.column, 1, name)
            XCTAssertTrue(DiagnosticRenderer.text(found).contains("\(name):1:1"), DiagnosticRenderer.text(found))
        }
    }

    func testAFileOverTheLimitOnDiskIsPlacedAtItsFirstLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medic-big-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("big.yaml")
        try Data("rules: []\n".utf8).write(to: file)
        let found = CatalogLoader(limits: InputLimits(maxFileSize: 4)).load(paths: [file.path]).diagnostics
        XCTAssertEqual(found.map(\.code), [.fileTooLarge])
        XCTAssertEqual(found.first?.location.line, 1)
        XCTAssertEqual(found.first?.location.column, 1)
    }
}
