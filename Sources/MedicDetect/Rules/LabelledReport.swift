import Foundation
import MedicModel

/// `medic backtest --labels`'s part of the report: per rule, precision, recall and the NAB
/// score, each window detected or missed and each false positive with its time, then what to
/// change. Text after the backtest's summary; JSON as the document's `labels` member:
///
/// `{"file", "profile", "rules": [{"rule", "series", "windows", "windows_detected",
/// "windows_missed", "firings_in_windows", "false_positives", "firings_in_probation",
/// "precision", "recall", "nab_score", "detected": [{"series", "key", "start", "end",
/// "fired"}], "missed": [{"series", "key", "start", "end"}], "false_positive_firings":
/// [{"series", "time", "value", "score"}], "advice": [text]}], "unscored_rules",
/// "unmatched_keys", "windows_outside_data": [{"series", "key", "start", "end"}]}`; precision
/// and recall are null when undefined (no firing, no window), a folded firing's score null.
public enum LabelledReport {
    // MARK: Text

    public static func text(_ result: LabelledResult, rules: [String: AnomalyRule]) -> String {
        var out = "\nLabelled windows from \(result.file), NAB profile \(result.profile.name)"
            + " (the first 15% of each series' samples, at most 750, are NAB's probation: not scored):\n"
        for score in result.rules {
            out += "\n  \(score.rule): precision \(ratio(score.precision, score.firingsInWindows, score.firingsInWindows + score.falsePositives.count, "firings in a window"))"
                + ", recall \(ratio(score.recall, score.detected.count, score.windows, "windows detected"))"
                + ", NAB score \(String(format: "%.2f", score.nab?.normalised ?? 0))\n"
            out += "    series \(score.series.joined(separator: ", "))\n"
            for d in score.detected {
                out += "    detected        \(span(d.window))  fired \(TimestampText.rfc3339(d.firing.time))"
                    + " (\(Int((d.delay * 100).rounded()))% into it)\(series(d.window.series, score))\n"
            }
            for w in score.missed {
                out += "    missed          \(span(w))\(series(w.series, score))\n"
            }
            for f in score.falsePositives {
                out += "    false positive  \(TimestampText.rfc3339(f.time))  value \(Interval.trim(f.value))"
                    + (f.score.map { " (score \(Interval.trim(($0 * 100).rounded() / 100)))" } ?? "")
                    + "\(series(f.series, score))\n"
            }
            if score.firingsInProbation > 0 {
                out += "    (\(score.firingsInProbation) \(score.firingsInProbation == 1 ? "firing" : "firings") in the probation period, not scored)\n"
            }
            for line in advice(score, rule: rules[score.rule]) { out += "    → \(line)\n" }
        }
        if !result.unscoredRules.isEmpty {
            out += "\n  Not scored (they read no labelled series): \(result.unscoredRules.joined(separator: ", ")).\n"
        }
        if !result.unmatchedKeys.isEmpty {
            // NAB's labels file names every file of the corpus: a few names say enough (JSON lists them all).
            let shown = result.unmatchedKeys.prefix(Self.unmatchedShown).map { "\"\($0)\"" }.joined(separator: ", ")
            let more = result.unmatchedKeys.count - Self.unmatchedShown
            out += "  Label keys that name no series of the data: \(shown)\(more > 0 ? " and \(more) more" : "").\n"
        }
        for w in result.windowsOutsideData {
            out += "  Left out: the window \(span(w)) of \"\(w.labelKey)\" holds no sample of \(w.series).\n"
        }
        return out
    }

    static let unmatchedShown = 5

    private static func ratio(_ value: Double?, _ part: Int, _ whole: Int, _ what: String) -> String {
        guard let value else { return "n/a (0 \(what.split(separator: " ").first ?? ""))" }
        return String(format: "%.2f", value) + " (\(part) of \(whole) \(what))"
    }

    private static func span(_ w: LabelledResult.Window) -> String {
        "\(TimestampText.rfc3339(w.start)) to \(TimestampText.rfc3339(w.end))"
    }

    /// The series, when the rule reads several.
    private static func series(_ key: String, _ score: LabelledResult.RuleScore) -> String {
        score.series.count > 1 ? "  \(key)" : ""
    }

    // MARK: What to change

    /// Sentences that say what to change in the rule, from what the windows show.
    public static func advice(_ score: LabelledResult.RuleScore, rule: AnomalyRule?) -> [String] {
        var lines: [String] = []
        let falsePositives = score.falsePositives.count, missed = score.missed.count
        if falsePositives == 0 && missed == 0 {
            return score.windows == 0 && score.firingsInWindows == 0
                ? ["no window to find and no false positive: label some anomalies to measure recall"]
                : ["every window detected, no false positive: nothing to change"]
        }
        let windowsOf = Dictionary(grouping: score.detected.map(\.window) + score.missed, by: \.series)
        // False positives within one window's length after a window: the anomaly firing again.
        let echoes = score.falsePositives.filter { f in
            (windowsOf[f.series] ?? []).contains { f.time > $0.end && f.time - $0.end <= max($0.end - $0.start, 1) }
        }.count
        if falsePositives > 0 && missed > 0 && (score.precision ?? 0) < 0.5 {
            lines.append("false positives and missed windows both: at this sensitivity the detector does not tell these anomalies "
                + "from normal variation; try another (compare `medic detect --detector NAME --csv` on a series) before tuning this one")
        }
        if falsePositives > 0 {
            if echoes > 0 {
                lines.append("\(echoes) of the \(falsePositives) false positives come within a window's length after a window: the same "
                    + "anomaly firing again; a longer cooldown (now \(rule?.cooldown.map(\.description) ?? "none")) or a composite's "
                    + "refractory keeps one anomaly to one alert")
            }
            if falsePositives > echoes {
                var line = "\(falsePositives - echoes) \(falsePositives - echoes == 1 ? "firing" : "firings") far from any window: "
                    + "make the rule less sensitive"
                if let change = rule.flatMap({ knob($0.detector, lessSensitive: true) }) { line += ": \(change)" }
                line += ", or require a longer `for` (now \(rule?.sustain.map(\.description) ?? "0")) so that short excursions do not fire"
                lines.append(line)
            }
        }
        if missed > 0 {
            var line = "\(missed) \(missed == 1 ? "window" : "windows") missed: make the rule more sensitive"
            if let change = rule.flatMap({ knob($0.detector, lessSensitive: false) }) { line += ": \(change)" }
            if let sustain = rule?.sustain, sustain.seconds > 0 { line += ", or shorten `for` (now \(sustain))" }
            lines.append(line + "; each change costs false positives elsewhere, which the NAB score weighs")
        }
        if let rule, let preset = DetectorPreset.all.first(where: { $0.spec == rule.detector }) {
            lines.append("the rule's detector is the preset \(preset.name) (\(preset.description)), which takes no params: to change it, "
                + "write the detector it stands for with its params (docs/detection.md, \"Presets\")")
        }
        let delays = score.detected.map(\.delay)
        if !delays.isEmpty, delays.reduce(0, +) / Double(delays.count) > 0.5 {
            lines.append("detections come late in their windows (on average \(Int((delays.reduce(0, +) / Double(delays.count) * 100).rounded()))% in); "
                + "NAB rewards early ones: a shorter `for` fires sooner")
        }
        return lines
    }

    /// The parameter that moves a detector's sensitivity, and which way. `if case` rather than a
    /// `switch`: a detector without a sentence here gets the general advice.
    static func knob(_ spec: DetectorSpec, lessSensitive less: Bool) -> String? {
        let way = less ? "raise" : "lower"
        if case .threshold(let op, let value) = spec {
            return "move `value` (now \(value)) \(less ? "further from" : "closer to") normal values (the rule fires when value \(op.rawValue) it)"
        }
        if case .movingAverage(_, let k) = spec { return "\(way) `k` (now \(Interval.trim(k)))" }
        if case .ewma(let alpha, let threshold, _) = spec {
            return "\(way) `threshold` (now \(Interval.trim(threshold)))" + (less ? ", or lower `alpha` (now \(Interval.trim(alpha))) for a steadier baseline" : "")
        }
        if case .iqr(_, let multiplier) = spec { return "\(way) `multiplier` (now \(Interval.trim(multiplier)))" }
        if case .rateOfChange(let change, _, _) = spec { return "\(way) `change` (now \(change))" }
        if case .seasonal(let low, let high, _) = spec {
            return "\(less ? "widen" : "narrow") the band (`low` \(Interval.trim(low)), `high` \(Interval.trim(high)))"
        }
        if case .composite(_, let threshold, _) = spec { return "\(way) the composite's `threshold` (now \(Interval.trim(threshold)))" }
        return nil
    }

    // MARK: JSON

    /// The `labels` member of the backtest's JSON document.
    public static func json(_ result: LabelledResult, rules: [String: AnomalyRule]) -> String {
        let document = Document(
            file: result.file, profile: result.profile.name,
            rules: result.rules.map { s in
                RuleRecord(
                    rule: s.rule, series: s.series, windows: s.windows, windows_detected: s.detected.count, windows_missed: s.missed.count,
                    firings_in_windows: s.firingsInWindows, false_positives: s.falsePositives.count,
                    firings_in_probation: s.firingsInProbation, precision: s.precision, recall: s.recall,
                    nab_score: s.nab?.normalised ?? 0,
                    detected: s.detected.map { DetectedRecord(series: $0.window.series, key: $0.window.labelKey, start: time($0.window.start),
                                                              end: time($0.window.end), fired: time($0.firing.time)) },
                    missed: s.missed.map(WindowRecord.init),
                    false_positive_firings: s.falsePositives.map { FiringRecord(series: $0.series, time: time($0.time), value: $0.value, score: $0.score) },
                    advice: advice(s, rule: rules[s.rule]))
            },
            unscored_rules: result.unscoredRules, unmatched_keys: result.unmatchedKeys,
            windows_outside_data: result.windowsOutsideData.map(WindowRecord.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        guard let data = try? encoder.encode(document) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    private static func time(_ seconds: Double) -> String { TimestampText.rfc3339(seconds) }

    private struct Document: Encodable {
        var file, profile: String
        var rules: [RuleRecord]
        var unscored_rules, unmatched_keys: [String]
        var windows_outside_data: [WindowRecord]
    }

    private struct RuleRecord: Encodable {
        var rule: String
        var series: [String]
        var windows, windows_detected, windows_missed, firings_in_windows, false_positives, firings_in_probation: Int
        var precision, recall: Double?
        var nab_score: Double
        var detected: [DetectedRecord]
        var missed: [WindowRecord]
        var false_positive_firings: [FiringRecord]
        var advice: [String]

        // Explicit so that a missing precision or recall is written as null, not left out.
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rule, forKey: .rule)
            try c.encode(series, forKey: .series)
            try c.encode(windows, forKey: .windows)
            try c.encode(windows_detected, forKey: .windows_detected)
            try c.encode(windows_missed, forKey: .windows_missed)
            try c.encode(firings_in_windows, forKey: .firings_in_windows)
            try c.encode(false_positives, forKey: .false_positives)
            try c.encode(firings_in_probation, forKey: .firings_in_probation)
            try c.encode(precision, forKey: .precision)
            try c.encode(recall, forKey: .recall)
            try c.encode(nab_score, forKey: .nab_score)
            try c.encode(detected, forKey: .detected)
            try c.encode(missed, forKey: .missed)
            try c.encode(false_positive_firings, forKey: .false_positive_firings)
            try c.encode(advice, forKey: .advice)
        }

        enum CodingKeys: String, CodingKey {
            case rule, series, windows, windows_detected, windows_missed, firings_in_windows, false_positives, firings_in_probation
            case precision, recall, nab_score, detected, missed, false_positive_firings, advice
        }
    }

    private struct WindowRecord: Encodable {
        var series, key, start, end: String

        init(_ w: LabelledResult.Window) {
            series = w.series
            key = w.labelKey
            start = TimestampText.rfc3339(w.start)
            end = TimestampText.rfc3339(w.end)
        }
    }

    private struct DetectedRecord: Encodable {
        var series, key, start, end, fired: String
    }

    private struct FiringRecord: Encodable {
        var series, time: String
        var value: Double
        var score: Double?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(series, forKey: .series)
            try c.encode(time, forKey: .time)
            try c.encode(value, forKey: .value)
            try c.encode(score, forKey: .score)
        }

        enum CodingKeys: String, CodingKey { case series, time, value, score }
    }
}
