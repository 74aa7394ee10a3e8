/// The pieces of sample text every input format shares: values, metric and label names.
enum SampleText {
    /// A sample value: a decimal number (`85`, `-1.5e3`) or Prometheus's `NaN`, `Inf`, `+Inf`,
    /// `-Inf` (any case). Hexadecimal floats and Swift's `nan(0x1)` spellings are refused.
    static func value<S: StringProtocol>(_ text: S) -> Double? {
        switch text.lowercased() {
        case "nan": return .nan
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: break
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || "+-.eE".utf8.contains($0) }),
              text.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Double(String(text))
    }

    /// Prometheus metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isMetricName<S: StringProtocol>(_ name: S) -> Bool {
        var first = true
        for b in name.utf8 {
            let letter = (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x3A
            guard letter || (!first && b >= 0x30 && b <= 0x39) else { return false }
            first = false
        }
        return !first
    }

    /// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func isLabelName<S: StringProtocol>(_ name: S) -> Bool {
        isMetricName(name) && !name.contains(":")
    }

    /// At most `limit` characters of `text`, for quoting user input in an error.
    static func excerpt<S: StringProtocol>(_ text: S, limit: Int = 60) -> String {
        text.count > limit ? String(text.prefix(limit)) + "…" : String(text)
    }

    static let valueHint = "a number, NaN, +Inf or -Inf"
}
