import Foundation
import MedicServeTestKit
import XCTest

extension ServeProcess {
    /// `medic token create NAME --role ROLE` into `dir/tokens.jsonl` (`tokenArguments(in:)` gives
    /// it to `medic serve`): the token printed.
    static func token(_ name: String, role: String = "operator", in dir: URL) throws -> String {
        let output = try MedicCommand.run(["token", "create", name, "--role", role] + tokenArguments(in: dir), in: dir)
        let token = output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(token.hasPrefix("medic_"), "medic token create printed: \(output)")
        return token
    }

    static func tokenArguments(in dir: URL) -> [String] { ["--tokens", dir.appendingPathComponent("tokens.jsonl").path] }
}
