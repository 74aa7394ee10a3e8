import MedicLoader
import MedicModel
import MedicTestSupport
import XCTest

/// Inputs built to crash, hang or exhaust a loader. Each must give one clear diagnostic.
/// (Speed and memory are measured by `MedicBench hostile`, not asserted here.)
final class HostileInputTests: XCTestCase {
    private func diagnostics(_ name: String, _ bytes: [UInt8], limits: InputLimits = .default) -> [Diagnostic] {
        CatalogLoader(limits: limits).load(documents: [(name, bytes)]).diagnostics
    }

    private func assertOne(_ code: DiagnosticCode, _ name: String, _ bytes: [UInt8], limits: InputLimits = .default,
                           file: StaticString = #filePath, line: UInt = #line) {
        let found = diagnostics(name, bytes, limits: limits)
        XCTAssertEqual(found.map(\.code), [code], describe(found), file: file, line: line)
    }

    func testAliasExpansionBombIsCutOff() {
        assertOne(.aliasExpansion, "bomb.yaml", Array(HostileDocuments.aliasBomb.utf8))
    }

    func testAliasUsedAsAKeyIsRefusedBeforeParsing() {
        assertOne(.aliasExpansion, "keybomb.yaml", Array(HostileDocuments.aliasKeyBomb.utf8))
    }

    func testDeepNestingIsRefused() {
        assertOne(.nestingTooDeep, "flow.yaml", Array(HostileDocuments.deepFlow(levels: 5_000).utf8))
        assertOne(.nestingTooDeep, "flow200.yaml", Array(HostileDocuments.deepFlow(levels: 200).utf8))
        assertOne(.nestingTooDeep, "block.yaml", Array(HostileDocuments.deepBlock(levels: 300).utf8))
        assertOne(.nestingTooDeep, "deep.json", Array(HostileDocuments.deepFlow(levels: 100_000, json: true).utf8))
        XCTAssertTrue(diagnostics("ok.yaml", Array(HostileDocuments.deepFlow(levels: 30).utf8)).allSatisfy { $0.code != .nestingTooDeep })
    }

    func testHugeScalarIsRefused() {
        let limits = InputLimits(maxFileSize: 16 << 20)
        assertOne(.scalarTooLong, "big.yaml", Array(HostileDocuments.hugeScalar(bytes: 10 << 20).utf8), limits: limits)
        assertOne(.scalarTooLong, "big.json", Array(HostileDocuments.hugeScalar(bytes: 10 << 20, json: true).utf8), limits: limits)
    }

    func testFileOverTheSizeLimitIsNotParsed() {
        assertOne(.fileTooLarge, "big.yaml", Array(HostileDocuments.hugeScalar(bytes: 5 << 20).utf8))
        assertOne(.fileTooLarge, "small-limit.yaml", Array("playbook_id: x\n".utf8), limits: InputLimits(maxFileSize: 4))
    }

    func testNULInvalidUTF8AndEmptyFiles() throws {
        let nul = diagnostics("nul.yaml", Array("playbook_id: a".utf8) + [0] + Array("b\n".utf8))
        XCTAssertEqual(nul.map(\.code), [.nulByte])
        XCTAssertEqual(nul.first?.location.line, 1)
        XCTAssertEqual(nul.first?.location.column, 15)
        let utf8 = diagnostics("bad.yaml", Array("name: x\nplaybook_id: caf".utf8) + [0xC3, 0x28, 0x0A])
        XCTAssertEqual(utf8.map(\.code), [.invalidUTF8])
        XCTAssertEqual(utf8.first?.location.line, 2)
        assertOne(.emptyFile, "empty.yaml", [])
        assertOne(.emptyFile, "blank.yaml", Array("\n  \n# only a comment\n".utf8))
        assertOne(.emptyFile, "empty.json", Array(" \n".utf8))
    }

    func testForeignTagsAndMergeKeys() {
        assertOne(.disallowedTag, "tag.yaml", Array("playbook_id: !!python/object/apply:os.system ['echo hi']\n".utf8))
        assertOne(.disallowedTag, "local-tag.yaml", Array("playbook_id: !Ref other\n".utf8))
        assertOne(.mergeKey, "merge.yaml", Array("base: &b {x: 1}\nactions:\n  <<: *b\n".utf8))
    }

    func testCoreTagsKeepTheirMeaningAndTabsGetTheirHint() {
        let tagged = "playbook_id: p\nname: !!str 42\nversion: \"1\"\ncategory: network\nseverity: low\nremediation_steps:\n  - step: !!int 1\n    name: s\n    action: a\n"
        let codes = diagnostics("tags.yaml", Array(tagged.utf8)).map(\.code)
        XCTAssertFalse(codes.contains(.wrongType), "!!int 1 is a number and !!str 42 is text: \(codes)")
        let tabbed = diagnostics("tab.yaml", Array("playbook_id: p\n\tname: x\n".utf8))
        XCTAssertEqual(tabbed.map(\.code), [.yamlSyntax])
        XCTAssertEqual(tabbed.first?.hint, "indent with spaces; YAML forbids tabs for indentation")
    }

    func testJSONTrailingCommaAndDuplicateKeys() {
        assertOne(.jsonSyntax, "comma.json", Array(#"{"playbook_id": "x", "steps": [1, 2,]}"#.utf8))
        assertOne(.duplicateKey, "dup.json", Array(#"{"playbook_id": "x", "playbook_id": "y"}"#.utf8))
        assertOne(.duplicateKey, "dup.yaml", Array("playbook_id: x\nplaybook_id: y\n".utf8))
    }

    func testYAML11ImplicitTypingSurprisesWhereTextIsExpected() {
        for (value, what) in [("no", "boolean"), ("0755", "number"), ("1:30", "number"), ("2.1", "number"), ("on", "boolean")] {
            let text = "playbook_id: p\nname: \(value)\nversion: \"1\"\ncategory: network\nseverity: low\nremediation_steps: []\n"
            let found = diagnostics("typing.yaml", Array(text.utf8)).filter { $0.code == .implicitTyping }
            XCTAssertEqual(found.count, 1, "name: \(value)")
            XCTAssertTrue(found.first?.message.contains(what) == true, found.first?.message ?? "")
            XCTAssertEqual(found.first?.hint, "quote it: \"\(value)\"")
        }
    }
}
