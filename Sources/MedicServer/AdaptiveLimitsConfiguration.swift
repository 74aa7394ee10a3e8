import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import MedicResilience

/// `adaptive:` in a kind's or a key's limits of the `resilience:` section (docs/resilience.md,
/// "Adaptive limits"): `true` (Medic's bounds), `false` (fixed limits), or the bounds:
///
/// ```yaml
/// adaptive: {failure_threshold: [3, 20], reset_timeout: [5s, 2m], max_concurrent: [2, 64], smoothing: 0.3}
/// ```
enum AdaptiveLimitsConfiguration {
    static let keys: Set<String> = ["failure_threshold", "reset_timeout", "max_concurrent", "smoothing"]

    static func decode(_ node: SourceNode, what: String, reader: inout EscalationSettings.Reader) -> GuardAdaptation? {
        if let text = node.scalar?.text, node.scalar?.style == .plain, ["true", "false"].contains(text) {
            return text == "true" ? .adaptive(AdaptiveLimits.Bounds()) : .fixed
        }
        guard node.mapping != nil else {
            ResilienceConfiguration.report(&reader, .wrongType, "'\(what)' must be true, false or a mapping of bounds, found \(node.kindDescription)", node,
                                           hint: "write 'adaptive: true', or bounds such as 'adaptive: {failure_threshold: [3, 20], reset_timeout: [5s, 2m]}'")
            return nil
        }
        guard let pairs = reader.mapping(node, "'\(what)'", known: keys) else { return nil }
        let defaults = AdaptiveLimits.Bounds()
        var (failures, reset, places, smoothing) = (defaults.failureThreshold, defaults.resetTimeout, defaults.maxConcurrent, defaults.smoothing)
        var valid = !pairs.contains { !keys.contains($0.key) }
        for pair in pairs where keys.contains(pair.key) {
            let place = "'\(pair.key)' of '\(what)'"
            switch pair.key {
            case "smoothing":
                guard let text = pair.value.scalar?.text, let number = Double(text), number > 0, number <= 1 else {
                    ResilienceConfiguration.report(&reader, .invalidValue, "\(place) must be a number above 0 and at most 1", pair.value,
                                                   hint: "the weight of a new value in each moving average, such as 0.3")
                    valid = false
                    continue
                }
                smoothing = number
            case "reset_timeout":
                guard let range = bounds(pair.value, place, duration: true, least: 0.001, most: 86_400, reader: &reader) else {
                    valid = false
                    continue
                }
                reset = range
            default:
                guard let range = bounds(pair.value, place, duration: false, least: 1, most: 100_000, reader: &reader) else {
                    valid = false
                    continue
                }
                if pair.key == "failure_threshold" { failures = range } else { places = range }
            }
        }
        guard valid else { return nil }
        return .adaptive(AdaptiveLimits.Bounds(failureThreshold: failures, resetTimeout: reset, maxConcurrent: places, smoothing: smoothing))
    }

    /// `[LOW, HIGH]`: whole numbers, or durations.
    static func bounds(_ node: SourceNode, _ place: String, duration: Bool, least: Double, most: Double,
                       reader: inout EscalationSettings.Reader) -> ClosedRange<Double>? {
        let example = duration ? "[5s, 2m]" : "[3, 20]"
        guard let items = node.sequence, items.count == 2 else {
            ResilienceConfiguration.report(&reader, .invalidValue, "\(place) must be a list of two bounds, the lowest then the highest", node,
                                           hint: "write \(example)")
            return nil
        }
        var values: [Double] = []
        for item in items {
            let text = item.scalar?.text ?? ""
            let value: Double?
            if duration, case .success(let interval) = Interval.parse(text) { value = interval.seconds } else if !duration { value = Int(text).map(Double.init) } else { value = nil }
            guard let value, value >= least, value <= most else {
                ResilienceConfiguration.report(&reader, .invalidValue,
                                               "\(place): '\(text)' is not \(duration ? "a duration above 0 and at most 24h" : "a whole number from 1 to 100000")",
                                               item, hint: "write \(example)")
                return nil
            }
            values.append(value)
        }
        guard values[0] <= values[1] else {
            ResilienceConfiguration.report(&reader, .invalidValue, "\(place): the lowest bound is above the highest", node, hint: "write \(example)")
            return nil
        }
        return values[0]...values[1]
    }
}
