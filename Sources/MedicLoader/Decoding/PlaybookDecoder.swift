import MedicModel

/// Decodes a playbook file (§3.1 plus Medic's documented extensions).
struct PlaybookDecoder {
    let context: DecodeContext

    static let keys = [
        "$schema", "kind", "playbook_id", "name", "version", "description", "category", "severity", "trigger",
        "pre_conditions", "parameters", "targets", "rollout", "remediation_steps", "verification", "rollback",
        "escalation", "safety", "metadata",
    ]
    static let stepKeys = ["step", "name", "action", "timeout", "expected_recovery", "on_failure", "idempotent", "retry", "parameters"]

    func decode(_ root: SourceNode) -> Playbook? {
        guard let f = context.fields(root, "the playbook", known: Self.keys) else { return nil }
        let idNode = f.required("playbook_id")
        let id = idNode.flatMap { context.string($0, "'playbook_id'") }
        if let id, let idNode { _ = context.checkID(id, idNode, "playbook_id") }
        let name = f.string("name", required: true)
        let version = f.string("version", required: true)
        let category = f.enumValue("category", Category.self, required: true)
        let severity = f.required("severity").flatMap { context.severity($0, "'severity'") }
        let decodedTrigger = f["trigger"].flatMap(trigger)
        let decodedSteps = f.required("remediation_steps").flatMap { steps($0, "remediation_steps", requireNonEmpty: true) }
        var playbook = Playbook(
            id: id ?? "", name: name ?? "", version: version ?? "", description: f.text("description"),
            category: category ?? .infrastructure, severity: severity ?? .sev2, trigger: decodedTrigger,
            preconditions: context.preconditions(f["pre_conditions"], "'pre_conditions'"),
            parameters: context.parameterSpecs(f["parameters"], "'parameters'"),
            steps: decodedSteps ?? [], location: SourceLocation(file: context.file, line: root.location.line, column: root.location.column))
        playbook.targets = f["targets"].flatMap(targets)
        playbook.rollout = f["rollout"].flatMap(rollout)
        playbook.verification = f["verification"].flatMap(verification)
        playbook.rollback = f["rollback"].flatMap(rollback)
        playbook.escalation = f["escalation"].flatMap(escalation)
        playbook.safety = f["safety"].flatMap(safety) ?? Safety()
        playbook.metadata = f["metadata"].flatMap(metadata) ?? PlaybookMetadata()
        // Kept even when a required key is faulty (already reported), so that the catalog checks
        // still see its steps and report their faults in the same run. A catalog with errors is
        // never executed, so a partial playbook never runs.
        return decodedSteps != nil ? playbook : nil
    }

    private func trigger(_ node: SourceNode) -> Trigger? {
        guard let f = context.fields(node, "'trigger'", known: ["condition", "duration"]) else { return nil }
        guard let condition = f.condition("condition", required: true) else { return nil }
        return Trigger(condition: condition, duration: f.duration("duration"))
    }

    func steps(_ node: SourceNode, _ what: String, requireNonEmpty: Bool) -> [RemediationStep]? {
        guard let items = context.list(node, "'\(what)'") else { return nil }
        if items.isEmpty && requireNonEmpty {
            context.report(.missingKey, "'\(what)' has no steps", at: node.location, hint: "a playbook needs at least one step")
            return nil
        }
        var steps: [RemediationStep] = []
        for (index, item) in items.enumerated() {
            guard let step = step(item, index: index) else { continue }
            if step.number != index + 1 {
                context.report(.stepNumbering, "step \(step.number) is item \(index + 1) of '\(what)'",
                               at: item.mapping?.first(where: { $0.key == "step" })?.value.location ?? item.location,
                               hint: "number steps 1..n in the order they run; this one should be \(index + 1)")
            }
            steps.append(step)
        }
        return steps
    }

    private func step(_ node: SourceNode, index: Int) -> RemediationStep? {
        // Keys beyond the step's own are the action's parameters, given inline (§3.1 `paths:`).
        guard let f = context.fields(node, "a step", known: Self.stepKeys, extraKeysAllowed: true) else { return nil }
        let number = f.required("step").flatMap { context.integer($0, "'step'", min: 1) }
        let name = f.string("name", required: true)
        let action = f.string("action", required: true)
        var arguments: [StepArgument] = []
        for pair in f.pairs where !Self.stepKeys.contains(pair.key) {
            if let raw = context.rawValue(pair.value) {
                arguments.append(StepArgument(name: pair.key, value: raw, location: pair.keyNode.location))
            }
        }
        if let explicit = f["parameters"] {
            if let pairs = explicit.mapping {
                for pair in pairs {
                    if let raw = context.rawValue(pair.value) {
                        arguments.append(StepArgument(name: pair.key, value: raw, location: pair.keyNode.location))
                    }
                }
            } else {
                context.report(.wrongType, "'parameters' of a step must be a mapping, found \(explicit.kindDescription)", at: explicit.location)
            }
        }
        var seen: Set<String> = []
        for argument in arguments where !seen.insert(argument.name).inserted {
            context.report(.duplicateKey, "parameter '\(argument.name)' is given twice (inline and under 'parameters')",
                           at: argument.location, hint: "give each parameter once")
        }
        guard let name, let action else { return nil }
        // A faulty number is reported already; the item's position keeps it from being reported as misordered too.
        let stepNumber: Int = number ?? index + 1
        return RemediationStep(
            number: stepNumber, name: name, action: action, timeout: f.duration("timeout"),
            expectedRecovery: f["expected_recovery"].flatMap(expectedRecovery),
            onFailure: f.enumValue("on_failure", FailurePolicy.self) ?? .abort, idempotent: f.bool("idempotent"),
            retry: f["retry"].flatMap(retry), arguments: arguments, location: f["action"]?.location ?? node.location)
    }

    /// A step cannot be expected to make things worse: a negative recovery is M206.
    private func expectedRecovery(_ node: SourceNode) -> Percentage? {
        guard let recovery = context.percentage(node, "'expected_recovery'") else { return nil }
        guard recovery.low >= 0 else {
            context.report(.outOfRange, "'expected_recovery' cannot be negative, found \(recovery)", at: node.location,
                           hint: "write the improvement the step brings, such as 5% or 5-10%")
            return nil
        }
        return recovery
    }

    private func retry(_ node: SourceNode) -> RetryPolicy? {
        guard let f = context.fields(node, "'retry'", known: ["attempts", "backoff", "initial", "max"]) else { return nil }
        guard let attempts = f.required("attempts").flatMap({ context.integer($0, "'attempts'", min: 1, max: 100) }) else { return nil }
        return RetryPolicy(attempts: attempts, backoff: f.enumValue("backoff", Backoff.self) ?? .exponential,
                           initial: f.duration("initial") ?? Interval(seconds: 1), max: f.duration("max"))
    }

    private func targets(_ node: SourceNode) -> [TargetSpec]? {
        guard let items = context.list(node, "'targets'") else { return nil }
        if items.isEmpty {
            context.report(.badTargets, "the target list is empty", at: node.location,
                           hint: "name the targets, or leave 'targets' out to give them on the command line")
            return nil
        }
        var targets: [TargetSpec] = []
        for item in items {
            var target: TargetSpec?
            if item.scalar != nil {
                target = context.string(item, "a target").map { TargetSpec(name: $0) }
            } else if let f = context.fields(item, "a target", known: ["name", "labels"]),
                      let name = f.string("name", required: true) {
                target = TargetSpec(name: name, labels: f["labels"].flatMap { context.stringMap($0, "'labels'") } ?? [:])
            }
            guard let target else { continue }
            if target.name.contains("*") || target.name.contains("?") || target.name == "all" {
                context.report(.badTargets, "target '\(target.name)' is a wildcard", at: item.location,
                               hint: "list the targets by name; Medic never expands a wildcard into every host")
            }
            targets.append(target)
        }
        return targets
    }

    private func rollout(_ node: SourceNode) -> RolloutPolicy? {
        let keys = ["stages", "wait", "verify", "abort_on", "max_concurrency", "max_fail_percentage", "order", "seed"]
        guard let f = context.fields(node, "'rollout'", known: keys) else { return nil }
        var policy = RolloutPolicy()
        if let stagesNode = f["stages"], let items = context.list(stagesNode, "'stages'") {
            policy.stages = items.compactMap(stage)
            // An empty list is its own fault; stages refused one by one were reported already.
            if items.isEmpty {
                context.report(.missingKey, "'stages' is empty", at: stagesNode.location, hint: "for example [1%, 10%, 50%, 100%]")
            }
        }
        policy.wait = f.duration("wait")
        policy.verify = f.condition("verify")
        policy.abortOn = f.condition("abort_on")
        policy.maxConcurrency = f.integer("max_concurrency", min: 1)
        if let node = f["max_fail_percentage"], let share = context.percentage(node, "'max_fail_percentage'", bareNumberAllowed: true) {
            if share.high != nil || share.low < 0 || share.low > 100 {
                context.report(.outOfRange, "'max_fail_percentage' must be one percentage from 0% to 100%", at: node.location)
            } else {
                policy.maxFailPercentage = share.low
            }
        }
        if let orderNode = f["order"] {
            let orders = ["name", "random"]
            policy.order = context.word(orderNode, "'order'", orders, { (text: String) -> String? in orders.contains(text) ? text : nil })
        }
        policy.seed = f.integer("seed")
        return policy
    }

    private func stage(_ node: SourceNode) -> RolloutStageSize? {
        guard let s = node.scalar else {
            context.report(.wrongType, "a stage must be a percentage, a count or 'all', found \(node.kindDescription)", at: node.location)
            return nil
        }
        if s.text == "all" { return .all }
        if s.style == .plain, case .integer(let count?) = PlainScalar.resolve(s.text) {
            guard count >= 1 else {
                context.report(.outOfRange, "a stage count must be at least 1", at: node.location)
                return nil
            }
            return .count(count)
        }
        guard let p = context.percentage(node, "a stage") else { return nil }
        guard p.high == nil, p.low > 0, p.low <= 100 else {
            context.report(.outOfRange, "a stage percentage must be above 0% and at most 100%", at: node.location)
            return nil
        }
        return .percentage(p.low)
    }

    private func verification(_ node: SourceNode) -> Verification? {
        let keys = ["check", "wait_time", "retry", "window", "consecutive_checks", "interval"]
        guard let f = context.fields(node, "'verification'", known: keys) else { return nil }
        guard let check = f.condition("check", required: true) else { return nil }
        return Verification(check: check, waitTime: f.duration("wait_time"), retry: f.integer("retry", min: 0),
                            window: f.duration("window"), consecutiveChecks: f.integer("consecutive_checks", min: 1),
                            interval: f.duration("interval"))
    }

    private func rollback(_ node: SourceNode) -> RollbackPlan? {
        guard let f = context.fields(node, "'rollback'", known: ["available", "reason", "steps"]) else { return nil }
        guard let available = f.required("available").flatMap({ context.bool($0, "'available'") }) else { return nil }
        let undo = f["steps"].flatMap { steps($0, "rollback.steps", requireNonEmpty: false) } ?? []
        if !available && !undo.isEmpty {
            context.report(.invalidValue, "rollback has steps but 'available' is false", at: node.location,
                           hint: "set 'available: true' or remove the steps")
        }
        return RollbackPlan(available: available, reason: f.text("reason"), steps: undo)
    }

    private func escalation(_ node: SourceNode) -> Escalation? {
        guard let f = context.fields(node, "'escalation'", known: ["on_failure", "notify", "create_incident", "policy"]) else { return nil }
        return Escalation(onFailure: f.bool("on_failure") ?? true, notify: f.strings("notify") ?? [],
                          createIncident: f.bool("create_incident") ?? false, policy: f.string("policy"),
                          policyLocation: f["policy"]?.location)
    }

    private func safety(_ node: SourceNode) -> Safety? {
        guard let f = context.fields(node, "'safety'", known: ["max_retries", "require_approval", "blast_radius"]) else { return nil }
        return Safety(maxRetries: f.integer("max_retries", min: 0), requireApproval: f.bool("require_approval") ?? false,
                      blastRadius: f["blast_radius"].flatMap { context.blastRadius($0, "'blast_radius'") })
    }

    private func metadata(_ node: SourceNode) -> PlaybookMetadata? {
        guard let f = context.fields(node, "'metadata'", known: [], extraKeysAllowed: true) else { return nil }
        var metadata = PlaybookMetadata()
        metadata.lastUpdated = f.text("last_updated")
        metadata.successRate = f.number("success_rate", min: 0, max: 1)
        metadata.avgExecutionTime = f.duration("avg_execution_time")
        metadata.totalExecutions = f.integer("total_executions", min: 0)
        metadata.owner = f.text("owner")
        metadata.tags = f.texts("tags") ?? []
        let typed: Set = ["last_updated", "success_rate", "avg_execution_time", "total_executions", "owner", "tags"]
        for pair in f.pairs where !typed.contains(pair.key) {
            if let s = pair.value.scalar { metadata.other[pair.key] = s.text }
        }
        return metadata
    }
}
