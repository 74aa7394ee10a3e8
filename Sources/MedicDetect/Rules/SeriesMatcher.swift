import Foundation
import MedicModel

/// A metric selector compiled for matching samples: the metric name, and its label matchers
/// with regular expressions compiled once.
///
/// Prometheus's semantics: a label the sample lacks is the empty string (`path=""` matches a
/// series without `path`, `path!="/var"` matches it too); `=~` and `!~` match the whole value
/// (the expression is anchored at both ends).
struct SeriesMatcher: Sendable {
    enum Test: Sendable {
        case equal(String)
        case notEqual(String)
        case matches(NSRegularExpression)
        case notMatches(NSRegularExpression)
    }

    let metric: String
    let tests: [(label: String, test: Test)]

    /// Fails with the reason when a regular expression does not compile.
    init(_ selector: MetricSelector) throws(RuleMatchError) {
        metric = selector.name
        var tests: [(label: String, test: Test)] = []
        for matcher in selector.matchers {
            switch matcher.op {
            case .equal: tests.append((matcher.label, .equal(matcher.value)))
            case .notEqual: tests.append((matcher.label, .notEqual(matcher.value)))
            case .matches: tests.append((matcher.label, .matches(try Self.regex(matcher))))
            case .notMatches: tests.append((matcher.label, .notMatches(try Self.regex(matcher))))
            }
        }
        self.tests = tests
    }

    private static func regex(_ matcher: MetricSelector.LabelMatcher) throws(RuleMatchError) -> NSRegularExpression {
        do {
            // \A and \z: ICU's $ would also match before a final line break.
            return try NSRegularExpression(pattern: "\\A(?:\(matcher.value))\\z")
        } catch {
            throw RuleMatchError(reason: "the regular expression of label '\(matcher.label)' (\(matcher.value)) does not compile")
        }
    }

    /// Whether a sample of this metric with `labels` is selected (the metric name is compared by
    /// the caller, which indexes rules by it).
    func matches(_ labels: [String: String]) -> Bool {
        for (label, test) in tests {
            let value = labels[label] ?? ""
            switch test {
            case .equal(let expected): if value != expected { return false }
            case .notEqual(let excluded): if value == excluded { return false }
            case .matches(let regex): if !Self.wholeMatch(regex, value) { return false }
            case .notMatches(let regex): if Self.wholeMatch(regex, value) { return false }
            }
        }
        return true
    }

    private static func wholeMatch(_ regex: NSRegularExpression, _ value: String) -> Bool {
        regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}

struct RuleMatchError: Error {
    var reason: String
}
