import MedicModel

/// Decodes an anomaly rules file: `rules:` list.
struct RuleDecoder {
    let context: DecodeContext

    static let keys = [
        "name", "description", "metric", "labels", "detector", "params", "for", "severity", "playbook", "parameters",
        "parameters_from_labels", "cooldown", "group_by",
    ]

    func decode(_ root: SourceNode) -> [AnomalyRule] {
        guard let f = context.fields(root, "the rules file", known: ["$schema", "kind", "rules"]),
              let rulesNode = f.required("rules"), let items = context.list(rulesNode, "'rules'") else { return [] }
        return items.compactMap(rule)
    }

    private func rule(_ node: SourceNode) -> AnomalyRule? {
        guard let f = context.fields(node, "a rule", known: Self.keys) else { return nil }
        let nameNode = f.required("name")
        let name = nameNode.flatMap { context.string($0, "'name'") }
        if let name, let nameNode { _ = context.checkID(name, nameNode, "rule name") }
        let metricNode = f.required("metric")
        let metricName = metricNode.flatMap { context.string($0, "'metric'") }
        if let metricName, let metricNode { context.checkIdentifier(metricName, metricNode, "metric", why: "metric names follow Prometheus: letters, digits and '_'") }
        let labels = f["labels"].flatMap { context.stringMap($0, "'labels'") } ?? [:]
        let spec = f.required("detector").flatMap { namedDetector($0, params: f["params"], at: node) }
        let severity = f.required("severity").flatMap { context.severity($0, "'severity'") }
        var parameters: [StepArgument] = []
        if let paramsNode = f["parameters"] {
            if let pairs = paramsNode.mapping {
                for pair in pairs {
                    if let raw = context.rawValue(pair.value) {
                        parameters.append(StepArgument(name: pair.key, value: raw, location: pair.keyNode.location))
                    }
                }
            } else {
                context.report(.wrongType, "'parameters' must be a mapping, found \(paramsNode.kindDescription)", at: paramsNode.location)
            }
        }
        // `playbook: ID` or `playbook: [ID, ...]` (candidates ranked by the knowledge base).
        var playbooks: [String] = []
        if let node = f["playbook"] {
            if node.scalar != nil {
                playbooks = context.string(node, "'playbook'").map { [$0] } ?? []
            } else {
                playbooks = context.strings(node, "'playbook'") ?? []
                if playbooks.isEmpty, node.sequence != nil {
                    context.report(.wrongType, "'playbook' lists no playbook", at: node.location,
                                   hint: "name one playbook id, or several in a list; leave 'playbook' out for a rule that only reports")
                }
                var seen = Set<String>()
                for id in playbooks where !seen.insert(id).inserted {
                    context.report(.duplicateName, "'playbook' lists '\(id)' twice", at: node.location, hint: "list each playbook once")
                }
            }
        }
        guard let name, let metricName, let spec, let severity else { return nil }
        let matchers = labels.sorted { $0.key < $1.key }.map { MetricSelector.LabelMatcher(label: $0.key, op: .equal, value: $0.value) }
        var rule = AnomalyRule(
            name: name, description: f.text("description"), metric: MetricSelector(name: metricName, matchers: matchers),
            detector: spec, sustain: f.duration("for"), severity: severity, playbook: playbooks.first,
            parameters: parameters,
            parametersFromLabels: f["parameters_from_labels"].flatMap { context.stringMap($0, "'parameters_from_labels'") } ?? [:],
            cooldown: f.duration("cooldown"), groupBy: f.strings("group_by") ?? [], location: node.location,
            playbookLocation: f["playbook"]?.location)
        rule.alternatives = Array(playbooks.dropFirst())
        return rule
    }

    /// A rule's `detector:`: a detector, its `params` decoded, or a preset's name
    /// (`DetectorPreset`), which stands for a whole configuration and so takes no `params`.
    func namedDetector(_ nameNode: SourceNode, params: SourceNode?, at owner: SourceNode) -> DetectorSpec? {
        if let text = nameNode.scalar?.text, !nameNode.isNull, let preset = DetectorPreset.named(text) {
            if let params {
                context.report(.unknownKey, "detector \(text) is a preset and takes no 'params'", at: params.location,
                               hint: "leave 'params' out, or write the detector it stands for (\(preset.description)) with yours")
                return nil
            }
            return preset.spec
        }
        let choices = DetectorKind.allCases.map(\.rawValue) + DetectorPreset.names
        guard let kind = context.word(nameNode, "'detector'", choices, { DetectorKind(rawValue: $0) }) else { return nil }
        return detector(kind, params: params, at: owner)
    }

    /// A detector's parameters, with the defaults of docs/format.md filled in.
    func detector(_ kind: DetectorKind, params node: SourceNode?, at owner: SourceNode) -> DetectorSpec? {
        let what = "'params' of detector \(kind.rawValue)"
        let empty = SourceNode(content: .mapping([]), location: owner.location)
        func fields(_ known: [String]) -> Fields? { context.fields(node ?? empty, what, known: known) }
        switch kind {
        case .threshold:
            guard let f = fields(["op", "value"]) else { return nil }
            let ops = ComparisonOperator.allCases.map(\.rawValue)
            if node == nil {
                context.report(.missingKey, "detector threshold needs 'params: {op, value}'", at: owner.location,
                               hint: "for example params: {op: \">\", value: 85}")
                return nil
            }
            let op = f.required("op").flatMap { n in context.word(n, "'op'", ops) { ComparisonOperator(rawValue: $0) } }
            let value = f.required("value").flatMap { n -> Quantity? in
                guard let s = n.scalar else {
                    context.report(.wrongType, "'value' must be a number, found \(n.kindDescription)", at: n.location)
                    return nil
                }
                switch Quantity.parse(s.text) {
                case .success(let q): return q
                case .failure(let e):
                    context.report(.invalidValue, "'value': \(e.message)", at: n.location(atOffset: e.offset), hint: e.hint)
                    return nil
                }
            }
            guard let op, let value else { return nil }
            return .threshold(op: op, value: value)
        case .movingAverage:
            guard let f = fields(["window", "k"]) else { return nil }
            return .movingAverage(window: f.integer("window", min: 2, max: 1_000_000) ?? 100, k: f.number("k", min: 0) ?? 3)
        case .ewma:
            guard let f = fields(["alpha", "threshold", "warmup"]) else { return nil }
            var alpha = f.number("alpha", min: 0, max: 1) ?? 0.2
            if alpha == 0, let node = f["alpha"] {
                context.report(.outOfRange, "'alpha' must be above 0 (0 would never move the average)", at: node.location)
                alpha = 0.2
            }
            return .ewma(alpha: alpha, threshold: f.number("threshold", min: 0) ?? 3, warmup: f.integer("warmup", min: 0) ?? 30)
        case .iqr:
            guard let f = fields(["window", "multiplier"]) else { return nil }
            return .iqr(window: f.integer("window", min: 4, max: 1_000_000) ?? 100, multiplier: f.number("multiplier", min: 0) ?? 1.5)
        case .rateOfChange:
            guard let f = fields(["change", "within", "direction"]) else { return nil }
            if node == nil {
                context.report(.missingKey, "detector rate_of_change needs 'params: {change, within}'", at: owner.location,
                               hint: "for example params: {change: 30%, within: 1m, direction: increase}")
                return nil
            }
            let change = f.required("change").flatMap { context.percentage($0, "'change'") }
            let within = f.required("within").flatMap { context.duration($0, "'within'") }
            guard let change, let within else { return nil }
            return .rateOfChange(change: change, within: within, direction: f.enumValue("direction", ChangeDirection.self) ?? .both)
        case .seasonal:
            guard let f = fields(["low", "high", "min_samples"]) else { return nil }
            let low = f.number("low", min: 0, max: 100) ?? 5, high = f.number("high", min: 0, max: 100) ?? 95
            if low >= high {
                context.report(.outOfRange, "seasonal 'low' (\(Interval.trim(low))) must be below 'high' (\(Interval.trim(high)))",
                               at: node?.location ?? owner.location)
                return nil
            }
            return .seasonal(low: low, high: high, minSamples: f.integer("min_samples", min: 1) ?? 4)
        case .composite:
            guard let f = fields(["components", "threshold", "refractory"]) else { return nil }
            guard let list = f.required("components").flatMap({ context.list($0, "'components'") }) else { return nil }
            var components: [DetectorSpec.WeightedDetector] = []
            for item in list {
                guard let c = context.fields(item, "a component", known: ["detector", "params", "weight", "gate"]),
                      let kind = c.enumValue("detector", DetectorKind.self, required: true) else { continue }
                if kind == .composite {
                    context.report(.invalidValue, "a composite cannot contain a composite", at: item.location)
                    continue
                }
                guard let spec = detector(kind, params: c["params"], at: item) else { continue }
                components.append(.init(detector: spec, weight: c.number("weight", min: 0) ?? 1, gate: c.bool("gate") ?? false))
            }
            guard !components.isEmpty else { return nil }
            return .composite(components: components, threshold: f.number("threshold", min: 0, max: 1) ?? 0.5,
                              refractory: f.duration("refractory"))
        case .context:
            guard let f = fields(["levels", "span", "threshold"]) else { return nil }
            return .context(levels: f.integer("levels", min: 2, max: 32) ?? 8, span: f.integer("span", min: 1, max: 64) ?? 7,
                            threshold: f.number("threshold", min: 0, max: 1) ?? 0.5)
        case .relativeEntropy:
            guard let f = fields(["window", "bins", "models", "confidence"]) else { return nil }
            return .relativeEntropy(window: f.integer("window", min: 4, max: 10_000) ?? 52, bins: f.integer("bins", min: 2, max: 64) ?? 10,
                                    models: f.integer("models", min: 1, max: 64) ?? 8,
                                    confidence: f.number("confidence", min: 0.5, max: 0.999_999) ?? 0.99)
        case .knnConformal:
            guard let f = fields(["dimension", "training", "calibration", "k", "threshold"]) else { return nil }
            let training = f.integer("training", min: 1, max: 1_000) ?? 50
            var k = f.integer("k", min: 1, max: 1_000) ?? 3
            if k > training, let node = f["k"] {
                context.report(.outOfRange, "'k' (\(k)) must be at most 'training' (\(training)): the neighbours are found among them",
                               at: node.location)
            }
            k = min(k, training)
            var calibration = f.integer("calibration", min: 1, max: 10_000) ?? 100
            if calibration < k, let node = f["calibration"] {
                // It would never hold k scores to rank against, so it would never score.
                context.report(.outOfRange, "'calibration' (\(calibration)) must be at least 'k' (\(k)): a score is ranked among the calibration set's",
                               at: node.location)
                calibration = k
            }
            return .knnConformal(dimension: f.integer("dimension", min: 1, max: 100) ?? 10, training: training,
                                 calibration: calibration, k: k,
                                 threshold: f.number("threshold", min: 0, max: 1) ?? 0.99)
        case .adaptiveResonance:
            guard let f = fields(["step", "window", "levels", "learning", "capacity", "threshold"]) else { return nil }
            let step = f.integer("step", min: 1, max: 100) ?? 5, window = f.integer("window", min: 2, max: 64) ?? 8
            let learning = f.integer("learning", min: 1, max: 10_000) ?? 400
            if learning < step * (window + 1), let node = f["learning"] {
                context.report(.outOfRange, "'learning' (\(learning)) must be at least 'step' × ('window' + 1) = \(step * (window + 1)) "
                               + "samples: the learning phase must hold a whole stretch", at: node.location)
            }
            return .adaptiveResonance(step: step, window: window, levels: f.integer("levels", min: 2, max: 1_000) ?? 80,
                                      learning: max(learning, step * (window + 1)), capacity: f.integer("capacity", min: 1, max: 256) ?? 64,
                                      threshold: f.number("threshold", min: 0, max: 1) ?? 0.5)
        case .range:
            guard let f = fields(["tolerance", "warmup"]) else { return nil }
            return .range(tolerance: f.number("tolerance", min: 0, max: 10) ?? 0, warmup: f.integer("warmup", min: 1, max: 1_000_000) ?? 100)
        case .periodic:
            guard let f = fields(["block", "alpha", "threshold", "warmup"]) else { return nil }
            var block = f.duration("block") ?? Interval(seconds: 1_800)
            if !(300...86_400).contains(block.seconds), let node = f["block"] {
                context.report(.outOfRange, "'block' (\(block)) must be 5m to 1d: the ring holds one week of blocks", at: node.location)
                block = Interval(seconds: 1_800)
            } else if 86_400.truncatingRemainder(dividingBy: block.seconds) != 0, let node = f["block"] {
                // Otherwise "the same block a day before" would be a day and some minutes before.
                context.report(.outOfRange, "'block' (\(block)) must divide a day (5m, 10m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d ...): a day and a week must be whole numbers of blocks",
                               at: node.location)
                block = Interval(seconds: 1_800)
            }
            var alpha = f.number("alpha", min: 0, max: 1) ?? 0.01
            if alpha == 0, let node = f["alpha"] {
                context.report(.outOfRange, "'alpha' must be above 0 (0 would never learn the residuals' spread)", at: node.location)
                alpha = 0.01
            }
            return .periodic(block: block, alpha: alpha, threshold: f.number("threshold", min: 0) ?? 3,
                             warmup: f.integer("warmup", min: 1, max: 1_000_000) ?? 100)
        }
    }
}
