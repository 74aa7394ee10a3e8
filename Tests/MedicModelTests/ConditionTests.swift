import MedicModel
import XCTest

final class ConditionTests: XCTestCase {
    private func parse(_ text: String) throws -> ConditionExpression {
        try Condition.parse(text).get().expression
    }

    func testComparisonsWithUnits() throws {
        XCTAssertEqual(try parse("disk_usage_percent > 85"),
                       .comparison(.reference(MetricSelector(name: "disk_usage_percent")), .greater, .literal(.number(85))))
        XCTAssertEqual(try parse("error_rate < 0.1%"),
                       .comparison(.reference(MetricSelector(name: "error_rate")), .less, .literal(.percentage(0.1))))
        XCTAssertEqual(try parse("p95_latency < 500ms"),
                       .comparison(.reference(MetricSelector(name: "p95_latency")), .less, .literal(.duration(Interval(seconds: 0.5)))))
        XCTAssertEqual(try parse("replication_lag < 10s"),
                       .comparison(.reference(MetricSelector(name: "replication_lag")), .less, .literal(.duration(Interval(seconds: 10)))))
    }

    func testLabelsBooleansAndGrouping() throws {
        let selector = MetricSelector(name: "disk_usage_percent", matchers: [.init(label: "path", op: .equal, value: "/var")])
        XCTAssertEqual(try parse(#"disk_usage_percent{path="/var"} > 85"#), .comparison(.reference(selector), .greater, .literal(.number(85))))
        let expression = try parse("(a > 1 OR b > 2) AND NOT c")
        guard case .all(let parts) = expression, parts.count == 2, case .any = parts[0], case .not(.truthy) = parts[1] else {
            return XCTFail("wrong tree: \(expression)")
        }
        XCTAssertEqual(expression.references.map(\.name), ["a", "b", "c"])
    }

    func testEveryConditionOfTheReferencePolicies() throws {
        func ref(_ name: String) -> Operand { .reference(MetricSelector(name: name)) }
        func num(_ value: Double) -> Operand { .literal(.number(value)) }
        func cmp(_ a: Operand, _ op: ComparisonOperator, _ b: Operand) -> ConditionExpression { .comparison(a, op, b) }
        let cases: [(String, ConditionExpression)] = [
            ("remediation_attempts >= 3", cmp(ref("remediation_attempts"), .greaterOrEqual, num(3))),
            ("affected_services > initial_count * 2",
             cmp(ref("affected_services"), .greater, .arithmetic(.multiply, ref("initial_count"), num(2)))),
            ("time_since_detection > 1h AND state == degraded",
             .all([cmp(ref("time_since_detection"), .greater, .literal(.duration(Interval(seconds: 3600)))),
                   cmp(ref("state"), .equal, ref("degraded"))])),
            ("customer_reports > 10 OR vip_customer_affected",
             .any([cmp(ref("customer_reports"), .greater, num(10)), .truthy(ref("vip_customer_affected"))])),
            ("data_consistency_check == failed", cmp(ref("data_consistency_check"), .equal, ref("failed"))),
            ("security_alert == true", cmp(ref("security_alert"), .equal, .boolean(true))),
            ("severity < SEV1", cmp(ref("severity"), .less, ref("SEV1"))),
            ("instances > 10", cmp(ref("instances"), .greater, num(10))),
            ("error_rate_increase > 5%", cmp(ref("error_rate_increase"), .greater, .literal(.percentage(5)))),
            ("disk_usage_percent < 75", cmp(ref("disk_usage_percent"), .less, num(75))),
            ("cpu_usage < 80%", cmp(ref("cpu_usage"), .less, .literal(.percentage(80)))),
            ("expiry > 30_days", cmp(ref("expiry"), .greater, .literal(.duration(Interval(seconds: 30 * 86_400))))),
            ("x > -5", cmp(ref("x"), .greater, num(-5))),
            ("a && b || c", .any([.all([.truthy(ref("a")), .truthy(ref("b"))]), .truthy(ref("c"))])),
        ]
        for (text, expected) in cases {
            switch Condition.parse(text) {
            case .success(let condition): XCTAssertEqual(condition.expression, expected, "'\(text)' parsed as \(condition.expression)")
            case .failure(let error): XCTFail("'\(text)': \(error.message)")
            }
        }
    }

    func testFaultsPointAtTheirColumn() {
        let cases: [(String, Int)] = [
            ("disk_usage_percent >> 85", 19), ("disk_usage_percent > ", 21), ("a > 5 AND", 9), ("(a > 5", 6),
            ("a > 5 b", 6), ("a = 5", 2), ("a > 5 < 6", 6), ("a > 5zz", 5), ("a > 'open", 4), ("a > 5 # b", 6),
        ]
        for (text, offset) in cases {
            guard case .failure(let error) = Condition.parse(text) else {
                XCTFail("accepted '\(text)'")
                continue
            }
            XCTAssertEqual(error.offset, offset, "'\(text)': \(error.message)")
        }
    }

    func testProductsBindTighterThanSums() throws {
        let a = Operand.reference(MetricSelector(name: "a")), b = Operand.reference(MetricSelector(name: "b"))
        XCTAssertEqual(try parse("x > a + b * 2"),
                       .comparison(.reference(MetricSelector(name: "x")), .greater,
                                   .arithmetic(.add, a, .arithmetic(.multiply, b, .literal(.number(2))))))
    }

    /// Usual precedence (docs/format.md, "Conditions"): products before sums, left to right
    /// within one precedence, parentheses group arithmetic.
    func testArithmeticPrecedenceAndParentheses() throws {
        let a = Operand.reference(MetricSelector(name: "a")), d = Operand.reference(MetricSelector(name: "d"))
        let two = Operand.literal(.number(2))
        XCTAssertEqual(try parse("a + d * 2 == 5"),
                       .comparison(.arithmetic(.add, a, .arithmetic(.multiply, d, two)), .equal, .literal(.number(5))))
        XCTAssertEqual(try parse("(a + d) * 2 == 6"),
                       .comparison(.arithmetic(.multiply, .arithmetic(.add, a, d), two), .equal, .literal(.number(6))))
        XCTAssertEqual(try parse("a - d - 2 < 0"),
                       .comparison(.arithmetic(.subtract, .arithmetic(.subtract, a, d), two), .less, .literal(.number(0))))
        XCTAssertEqual(try parse("a - (d - 2) < 0"),
                       .comparison(.arithmetic(.subtract, a, .arithmetic(.subtract, d, two)), .less, .literal(.number(0))))
        XCTAssertEqual(try parse("((a + d)) / 2 > 1"),
                       .comparison(.arithmetic(.divide, .arithmetic(.add, a, d), two), .greater, .literal(.number(1))))
        // A parenthesis followed by AND encloses a condition, not a value.
        XCTAssertEqual(try parse("(a > 1) AND (d + 2) > 3"),
                       .all([.comparison(a, .greater, .literal(.number(1))),
                             .comparison(.arithmetic(.add, d, two), .greater, .literal(.number(3)))]))
        // The text of a parsed condition reads back as the same tree.
        for text in ["(a + d) * 2 == 6", "a - (d - 2) < 0", "a / (d * 2) > 1", "a + d * 2 == 5", "(a - d) - 2 > 0"] {
            let tree = try parse(text)
            XCTAssertEqual(try parse(tree.description), tree, "\(text) printed as \(tree.description)")
        }
        if case .success(let tree) = Condition.parse("x > - - 5") { XCTFail("two signs accepted: \(tree.expression)") }
    }

    func testThirtyTwoLevelsOfNotAndParenthesesAreAllowed() {
        for levels in [1, 31, 32] {
            let nots = String(repeating: "NOT ", count: levels) + "a"
            let groups = String(repeating: "(", count: levels) + "a > 1" + String(repeating: ")", count: levels)
            let values = "x > " + String(repeating: "(", count: levels) + "1" + String(repeating: ")", count: levels)
            let mixed = String(repeating: "NOT (", count: levels / 2) + "a" + String(repeating: ")", count: levels / 2)
            for text in [nots, groups, values, mixed] {
                if case .failure(let error) = Condition.parse(text) { XCTFail("\(levels) levels refused: \(error.message)") }
            }
        }
        for text in [String(repeating: "NOT ", count: 33) + "a", String(repeating: "(", count: 33) + "a" + String(repeating: ")", count: 33),
                     "x > " + String(repeating: "(", count: 33) + "1" + String(repeating: ")", count: 33)] {
            guard case .failure(let error) = Condition.parse(text) else {
                XCTFail("33 levels accepted")
                continue
            }
            XCTAssertTrue(error.message.contains("nested too deeply"), error.message)
        }
    }

    func testNestingIsBounded() {
        let deep = String(repeating: "(", count: 10_000) + "a" + String(repeating: ")", count: 10_000)
        guard case .failure(let error) = Condition.parse(deep) else { return XCTFail("accepted") }
        XCTAssertTrue(error.message.contains("nested"), error.message)
    }
}
