import Foundation
import MedicServeTestKit
import XCTest

/// `truncatedAlerts`, Alertmanager's count of the alerts it left out of a post, over real HTTP:
/// a whole number from 0 to 2^63 - 1 is read; anything else is a 400 naming the field, never
/// "the body is not valid JSON" for a body that is (Foundation's decoder reports a number that
/// does not fit as invalid JSON, naming no field).
final class AlertCountFieldTests: XCTestCase {
    func testTruncatedAlertsIsAWholeNumberInRangeOrA400NamingIt() async throws {
        let ws = try APIWorkspace(self)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        func post(_ count: String) async throws -> ServeProcess.Answer {
            let body = #"{"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "medic", "alerts": [], "truncatedAlerts": \#(count)}"#
            return try await serve.post("/api/v1/alerts", body: Data(body.utf8))
        }
        for accepted in ["0", "7", "1e3", "9223372036854775807"] {
            let answer = try await post(accepted)
            XCTAssertEqual(answer.status, 200, "truncatedAlerts \(accepted): \(answer.body)")
        }
        for refused in ["9223372036854775808", "463192237595461025792", "-1", "1.5"] {
            let answer = try await post(refused)
            XCTAssertEqual(answer.status, 400, "truncatedAlerts \(refused): \(answer.body)")
            XCTAssertEqual(answer.json["field"] as? String, "truncatedAlerts", "truncatedAlerts \(refused): \(answer.body)")
        }
        let ready = try await serve.get("/healthz")
        XCTAssertEqual(ready.status, 200)
    }
}
