import MedicEngine
import MedicModel
import XCTest

/// What docs/format.md promises of arithmetic in conditions, evaluated: products before sums.
final class ConditionArithmeticTests: XCTestCase {
    private func evaluate(_ text: String) async throws -> ConditionResult {
        let condition = try Condition.parse(text).get()
        return await ConditionEvaluator(metrics: MetricRegistry(sources: [])).evaluate(condition, parameters: ["a": "1", "d": "2"])
    }

    func testProductsBindTighterThanSumsAndParenthesesGroup() async throws {
        for text in ["a + d * 2 == 5", "(a + d) * 2 == 6", "a - d - 1 == -2", "a - (d - 1) == 0", "d * 3 / 2 == 3"] {
            guard case .holds = try await evaluate(text) else { return XCTFail("\(text) does not hold") }
        }
        for text in ["a + d * 2 == 6", "(a + d) * 2 == 5"] {
            guard case .fails = try await evaluate(text) else { return XCTFail("\(text) holds") }
        }
    }
}
