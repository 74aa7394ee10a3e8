import MedicModel
import XCTest

final class ValueParsingTests: XCTestCase {
    func testDurationsInEverySpellingOfTheReference() throws {
        let cases: [(String, Double)] = [
            ("100ms", 0.1), ("5s", 5), ("300s", 300), ("2m", 120), ("1h", 3600), ("1_hour", 3600), ("7_days", 604_800),
            ("30_days", 2_592_000), ("24h", 86400), ("5_minutes", 300), ("15_minutes", 900), ("0m", 0), ("1h30m", 5400),
            ("300", 300), ("2 hours", 7200), ("1w", 604_800), ("1.5h", 5400),
        ]
        for (text, seconds) in cases {
            XCTAssertEqual(try Interval.parse(text).get().seconds, seconds, accuracy: 1e-9, text)
        }
    }

    func testBadDurationsSayWhereAndSuggestTheUnit() {
        guard case .failure(let error) = Interval.parse("5 minutess") else { return XCTFail("accepted") }
        XCTAssertEqual(error.offset, 2)
        XCTAssertEqual(error.hint, "did you mean 'minutes'?")
        for text in ["", "m", "5x", "five minutes", "5m extra", "10 parsecs", "-5m"] {
            if case .success = Interval.parse(text) { XCTFail("accepted '\(text)'") }
        }
    }

    func testPercentagesAndRanges() throws {
        XCTAssertEqual(try Percentage.parse("5%").get(), Percentage(5))
        XCTAssertEqual(try Percentage.parse("0.1%").get(), Percentage(0.1))
        XCTAssertEqual(try Percentage.parse("5-10%").get(), Percentage(5, upTo: 10))
        XCTAssertEqual(try Percentage.parse("5%-10%").get(), Percentage(5, upTo: 10))
        XCTAssertEqual(try Percentage.parse("20", bareNumberAllowed: true).get(), Percentage(20))
        for text in ["5", "%", "10-5%", "5%%", "five%"] {
            if case .success = Percentage.parse(text) { XCTFail("accepted '\(text)'") }
        }
    }

    func testSizesUseSIAndBinaryUnits() throws {
        XCTAssertEqual(try ByteSize.parse("100MB").get().bytes, 100e6)
        XCTAssertEqual(try ByteSize.parse("1GB").get().bytes, 1e9)
        XCTAssertEqual(try ByteSize.parse("512KiB").get().bytes, 524_288)
        XCTAssertEqual(try ByteSize.parse("4MiB").get().bytes, 4_194_304)
        guard case .failure(let error) = ByteSize.parse("100XB") else { return XCTFail("accepted") }
        XCTAssertEqual(error.offset, 3)
    }

    func testBoundsAsTheReferenceWritesThem() throws {
        XCTAssertEqual(try Bound.parse("<90%").get(), Bound(.less, .percentage(90)))
        XCTAssertEqual(try Bound.parse(">100MB").get(), Bound(.greater, .size(ByteSize(bytes: 100e6))))
        XCTAssertEqual(try Bound.parse("> 30_days").get(), Bound(.greater, .duration(Interval(seconds: 2_592_000))))
        XCTAssertEqual(try Bound.parse(">=3").get(), Bound(.greaterOrEqual, .number(3)))
        guard case .failure(let error) = Bound.parse("> 30_dayz") else { return XCTFail("accepted") }
        XCTAssertEqual(error.offset, 4)
        if case .success = Bound.parse("90%") { XCTFail("a bound needs a comparison") }
    }

    func testSeverityAcceptsBothSpellings() {
        XCTAssertEqual(Severity(text: "critical"), .sev0)
        XCTAssertEqual(Severity(text: "SEV1"), .sev1)
        XCTAssertEqual(Severity(text: "SEV2_MEDIUM"), .sev2)
        XCTAssertEqual(Severity(text: "low"), .sev3)
        XCTAssertNil(Severity(text: "SEV7"))
        XCTAssertNil(Severity(text: "urgent"))
        XCTAssertTrue(Severity.sev0 > Severity.sev1, "SEV0 is the more severe")
    }

    func testBlastRadiusAliases() {
        XCTAssertEqual(BlastRadius(text: "single_host"), .singleInstance)
        XCTAssertEqual(BlastRadius(text: "cluster_wide"), .clusterWide)
        XCTAssertNil(BlastRadius(text: "single_hots"))
    }

    func testSpellingSuggestsOnlyCloseWords() {
        XCTAssertEqual(Spelling.suggestion(for: "remediaton_steps", among: ["remediation_steps", "rollback"]), "remediation_steps")
        XCTAssertEqual(Spelling.suggestion(for: "cleanup_temp_file", among: ["cleanup_temp_files", "clear_cache"]), "cleanup_temp_files")
        XCTAssertNil(Spelling.suggestion(for: "zzz", among: ["rollback", "safety"]))
        XCTAssertEqual(Spelling.editDistance("ab", "ba"), 1, "a transposition is one edit")
    }

    func testParameterValuesRenderForTheShellEnvironment() {
        XCTAssertEqual(ParameterValue.duration(Interval(seconds: 604_800)).environmentValue, "604800")
        XCTAssertEqual(ParameterValue.list([.string("/tmp/*"), .string("/var/tmp/*")]).environmentValue, "/tmp/* /var/tmp/*")
        XCTAssertEqual(ParameterValue.boolean(true).environmentValue, "true")
        XCTAssertEqual(ParameterValue.percentage(Percentage(5)).environmentValue, "5")
    }

    func testParameterSpecTypesValuesAndEnforcesItsEnum() throws {
        let resource = ParameterSpec(name: "resource_type", type: .string, allowedValues: ["memory", "cpu", "disk"])
        XCTAssertEqual(try resource.accept(.scalar("cpu", quoted: false)).get(), .string("cpu"))
        guard case .failure(let error) = resource.accept(.scalar("cpus", quoted: false)) else { return XCTFail("accepted") }
        XCTAssertEqual(error.hint, "did you mean 'cpu'?")
        let age = ParameterSpec(name: "age_threshold", type: .duration, required: true)
        XCTAssertEqual(try age.accept(.scalar("7_days", quoted: false)).get(), .duration(Interval(seconds: 604_800)))
        let count = ParameterSpec(name: "keep_last", type: .integer)
        if case .success = count.accept(.scalar("five", quoted: false)) { XCTFail("accepted text for an integer") }
        let window = ParameterSpec(name: "window", type: .duration, allowedValues: ["300s", "600s"])
        XCTAssertEqual(try window.accept(.scalar("5m", quoted: false)).get(), .duration(Interval(seconds: 300)), "300s and 5m are one value")
        let flag = ParameterSpec(name: "force", type: .boolean)
        if case .success = flag.accept(.scalar("true", quoted: true)) { XCTFail("quoted text accepted as a boolean") }
        XCTAssertEqual(ParameterSpec.inferred("300s", quoted: false), .duration(Interval(seconds: 300)))
        XCTAssertEqual(ParameterSpec.inferred("300s", quoted: true), .duration(Interval(seconds: 300)))
        XCTAssertEqual(ParameterSpec.inferred("300", quoted: true), .string("300"))
        XCTAssertEqual(ParameterSpec.inferred("5%", quoted: false), .percentage(Percentage(5)))
    }
}
