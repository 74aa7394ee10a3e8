import Foundation
import MedicModel

/// Decodes policy blocks (§5.1, §5.3, §5.4, §7.1, §7.3, §7.4, §8.3, §9.3) as the reference writes them.
struct PolicyDecoder {
    let context: DecodeContext

    static let blocks = [
        "severity_levels", "escalation_policies", "auto_escalation_triggers", "blast_radius_levels",
        "containment_strategies", "rollback_strategies", "verification_states", "knowledge_base_structure", "rate_limits",
        "maintenance_windows", "playbook_selection", "retention",
    ]

    func decode(_ root: SourceNode) -> Policies {
        var policies = Policies()
        guard let f = context.fields(root, "the policies file", known: ["$schema", "kind"] + Self.blocks) else { return policies }
        func entries(_ key: String) -> [SourceNode.Pair] {
            guard let node = f[key] else { return [] }
            guard let pairs = node.mapping else {
                context.report(.wrongType, "'\(key)' must be a mapping of names to entries, found \(node.kindDescription)", at: node.location)
                return []
            }
            return pairs
        }
        policies.severityLevels = entries("severity_levels").compactMap(severityLevel)
        policies.escalationPolicies = entries("escalation_policies").compactMap(escalationPolicy)
        policies.autoEscalationTriggers = entries("auto_escalation_triggers").compactMap(autoEscalationTrigger)
        policies.blastRadiusLevels = entries("blast_radius_levels").compactMap(blastRadiusLevel)
        policies.containmentStrategies = entries("containment_strategies").compactMap(containmentStrategy)
        policies.rollbackStrategies = entries("rollback_strategies").compactMap(rollbackStrategy)
        policies.verificationStates = entries("verification_states").compactMap(verificationState)
        policies.knowledgeBase = entries("knowledge_base_structure").compactMap(knowledgeBaseFile)
        policies.rateLimits = entries("rate_limits").compactMap(rateLimit)
        policies.maintenanceWindows = entries("maintenance_windows").compactMap(maintenanceWindow)
        if let node = f["playbook_selection"] { policies.playbookSelection = playbookSelection(node) }
        if let node = f["retention"] { policies.retention = RetentionDecoder(context: context).decode(node) }
        return policies
    }

    /// `playbook_selection: {criteria: {success_rate: 0.4, avg_execution_time: 0.2, blast_radius_match: 0.3, recency: 0.1}, recency_half_life: 30d}`
    /// (§6.2). A criterion left out keeps the reference's weight.
    private func playbookSelection(_ node: SourceNode) -> PlaybookSelectionPolicy? {
        guard let f = context.fields(node, "'playbook_selection'", known: ["criteria", "recency_half_life"]) else { return nil }
        var policy = PlaybookSelectionPolicy(location: node.location)
        if let criteria = f["criteria"] {
            let names = ["success_rate", "avg_execution_time", "blast_radius_match", "recency"]
            guard let c = context.fields(criteria, "'criteria' of playbook_selection", known: names) else { return nil }
            policy.successRate = c.number("success_rate", min: 0) ?? policy.successRate
            policy.avgExecutionTime = c.number("avg_execution_time", min: 0) ?? policy.avgExecutionTime
            policy.blastRadiusMatch = c.number("blast_radius_match", min: 0) ?? policy.blastRadiusMatch
            policy.recency = c.number("recency", min: 0) ?? policy.recency
            if policy.successRate + policy.avgExecutionTime + policy.blastRadiusMatch + policy.recency <= 0 {
                context.report(.invalidValue, "the playbook_selection criteria weigh nothing: every weight is 0", at: criteria.location,
                               hint: "give at least one criterion a weight above 0 (the reference: success_rate 0.4, avg_execution_time 0.2, blast_radius_match 0.3, recency 0.1)")
                return nil
            }
        }
        if let halfLife = f.duration("recency_half_life") {
            guard halfLife.seconds > 0 else {
                context.report(.badDuration, "'recency_half_life' must be longer than 0", at: f["recency_half_life"]?.location ?? node.location,
                               hint: "such as 30d")
                return nil
            }
            policy.recencyHalfLife = halfLife
        }
        return policy
    }

    private func responseTime(_ node: SourceNode?, _ what: String) -> ResponseTime? {
        guard let node, let s = node.scalar else { return nil }
        if let first = s.text.unicodeScalars.first, ("0"..."9").contains(first) {
            return context.duration(node, what).map { .duration($0) }
        }
        guard let word = context.string(node, what) else { return nil }
        return .word(word)
    }

    /// `on_call_engineer (phone)`, `cto (sms)`, `team_slack_channel`.
    static func notification(_ text: String) -> NotificationTarget {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else {
            return NotificationTarget(recipient: text.trimmingSpaces, methods: [])
        }
        let recipient = String(text[..<open]).trimmingSpaces
        let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
        return NotificationTarget(recipient: recipient, methods: methods(String(inner)))
    }

    /// `phone_call + sms`, `email + slack`.
    static func methods(_ text: String) -> [String] {
        text.split(separator: "+").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }

    private func severityLevel(_ pair: SourceNode.Pair) -> SeverityLevelPolicy? {
        let keys = ["description", "examples", "response_time", "escalation", "notifications", "auto_remediation", "allowed_actions"]
        let what = "severity level '\(pair.key)'"
        guard let f = context.fields(pair.value, what, known: keys) else { return nil }
        guard let severity = Severity(text: pair.key), severity != .info else {
            context.report(.unknownSeverity, "'\(pair.key)' is not a severity level name", at: pair.keyNode.location,
                           hint: "name levels SEV0..SEV3, optionally with a word: SEV1_HIGH")
            return nil
        }
        let mode = f.enumValue("auto_remediation", AutoRemediationMode.self, required: true)
        guard let mode else { return nil }
        return SeverityLevelPolicy(
            name: pair.key, severity: severity, description: f.text("description"), examples: f.texts("examples") ?? [],
            responseTime: responseTime(f["response_time"], "'response_time'"), escalation: responseTime(f["escalation"], "'escalation'"),
            notifications: (f.texts("notifications") ?? []).map(Self.notification), autoRemediation: mode,
            allowedActions: f.strings("allowed_actions") ?? [], location: pair.keyNode.location)
    }

    /// `rate_limits: {NAME: {scope: playbook|action|target, match: GLOB, max_runs: N, window: DURATION}}`.
    private func rateLimit(_ pair: SourceNode.Pair) -> RateLimitPolicy? {
        let what = "rate limit '\(pair.key)'"
        guard let f = context.fields(pair.value, what, known: ["scope", "match", "max_runs", "window"]) else { return nil }
        let scope = f.enumValue("scope", RateLimitScope.self, required: true)
        let match = f.string("match") ?? "*"
        let maxRuns = f.required("max_runs").flatMap { context.integer($0, "'max_runs'", min: 1) }
        let window = f.required("window").flatMap { context.duration($0, "'window'") }
        guard let scope, let maxRuns, let window else { return nil }
        if window.seconds <= 0, let node = f["window"] {
            context.report(.badDuration, "'window' must be longer than 0", at: node.location, hint: "write a length of time such as 1h")
            return nil
        }
        return RateLimitPolicy(name: pair.key, scope: scope, match: match, maxRuns: maxRuns, window: window, location: pair.keyNode.location)
    }

    /// `maintenance_windows: {NAME: {days: [sat, sun], start: "02:00", duration: 2h, timezone: Europe/Berlin}}`.
    private func maintenanceWindow(_ pair: SourceNode.Pair) -> MaintenanceWindow? {
        let what = "maintenance window '\(pair.key)'"
        guard let f = context.fields(pair.value, what, known: ["days", "start", "duration", "timezone"]) else { return nil }
        var days: [Int] = []
        var valid = true
        for node in f["days"].flatMap({ context.list($0, "'days'") }) ?? [] {
            guard let word = context.string(node, "a day") else { valid = false; continue }
            guard let day = MaintenanceWindow.dayNumbers[word.lowercased()] else {
                let hint = Spelling.didYouMean(word.lowercased(), among: Array(MaintenanceWindow.dayNumbers.keys)) ?? "days: mon tue wed thu fri sat sun"
                context.report(.invalidValue, "'\(word)' is not a day of the week", at: node.location, hint: hint)
                valid = false
                continue
            }
            if !days.contains(day) { days.append(day) }
        }
        var start: Int?
        if let node = f.required("start"), let text = context.string(node, "'start'") {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hours = Int(parts[0]), let minutes = Int(parts[1]),
               (0..<24).contains(hours), (0..<60).contains(minutes) {
                start = hours * 60 + minutes
            } else {
                context.report(.wrongType, "'start' must be a time of day as HH:MM, found '\(text)'", at: node.location,
                               hint: "write it quoted, such as \"02:00\"")
            }
        }
        let duration = f.required("duration").flatMap { context.duration($0, "'duration'") }
        if let duration, duration.seconds <= 0 || duration.seconds > 7 * 86400, let node = f["duration"] {
            context.report(.badDuration, "'duration' must be longer than 0 and at most 7 days", at: node.location)
            valid = false
        }
        let timeZone = f.string("timezone") ?? "UTC"
        if TimeZone(identifier: timeZone) == nil, let node = f["timezone"] {
            context.report(.invalidValue, "'\(timeZone)' is not a time zone", at: node.location, hint: "an IANA name such as UTC or Europe/Berlin")
            valid = false
        }
        guard valid, let start, let duration else { return nil }
        return MaintenanceWindow(name: pair.key, days: days.sorted(), start: start, duration: duration, timeZone: timeZone,
                                 location: pair.keyNode.location)
    }

    private func escalationPolicy(_ pair: SourceNode.Pair) -> EscalationPolicy? {
        let what = "escalation policy '\(pair.key)'"
        guard let f = context.fields(pair.value, what, known: ["name", "applies_to", "escalation_chain"]) else { return nil }
        let name = f.string("name", required: true)
        var chain: [EscalationPolicy.Level] = []
        if let items = f.required("escalation_chain").flatMap({ context.list($0, "'escalation_chain'") }) {
            for (index, item) in items.enumerated() {
                guard let l = context.fields(item, "an escalation level", known: ["level", "delay", "condition", "notify", "method"]) else { continue }
                guard let level = l.required("level").flatMap({ context.integer($0, "'level'", min: 1) }),
                      let notify = l.string("notify", required: true) else { continue }
                if level != index + 1 {
                    context.report(.escalationOrder, "escalation level \(level) is item \(index + 1) of the chain",
                                   at: l["level"]?.location ?? item.location, hint: "number levels 1..n in order")
                }
                chain.append(.init(level: level, delay: l.duration("delay") ?? Interval(seconds: 0), condition: l.string("condition"),
                                   notify: notify, methods: l.text("method").map(Self.methods) ?? []))
            }
        }
        guard let name else { return nil }
        return EscalationPolicy(id: pair.key, name: name, appliesTo: f.strings("applies_to") ?? [], chain: chain,
                                location: pair.keyNode.location)
    }

    private func autoEscalationTrigger(_ pair: SourceNode.Pair) -> AutoEscalationTrigger? {
        guard let f = context.fields(pair.value, "auto-escalation trigger '\(pair.key)'", known: ["condition", "action", "reason"]) else { return nil }
        let condition = f.condition("condition", required: true)
        let action: EscalationAction? = f.required("action").flatMap { node in
            guard let text = context.string(node, "'action'") else { return nil }
            if text == "escalate_one_level" { return .oneLevel }
            if text.hasPrefix("escalate_to_") {
                let level = String(text.dropFirst("escalate_to_".count))
                if let severity = Severity(text: level), severity != .info { return .toSeverity(severity) }
                context.report(.unresolvedReference, "'\(text)' names severity '\(level)', which is not a level", at: node.location,
                               hint: "use escalate_to_sev0 .. escalate_to_sev3 or escalate_one_level")
                return nil
            }
            let hint = Spelling.didYouMean(text, among: ["escalate_one_level", "escalate_to_sev0", "escalate_to_sev1"])
            context.report(.invalidValue, "'\(text)' is not an escalation action", at: node.location,
                           hint: hint ?? "use escalate_one_level or escalate_to_sevN")
            return nil
        }
        guard let condition, let action else { return nil }
        return AutoEscalationTrigger(name: pair.key, condition: condition, action: action, reason: f.text("reason"),
                                     location: pair.keyNode.location)
    }

    private func blastRadiusLevel(_ pair: SourceNode.Pair) -> BlastRadiusPolicy? {
        let keys = ["description", "auto_remediation", "approval_required", "approval_required_if", "require_sign_off", "examples", "max_impact"]
        guard let level = context.blastRadius(pair.keyNode, "blast radius level"),
              let f = context.fields(pair.value, "blast radius level '\(pair.key)'", known: keys),
              let mode = f.enumValue("auto_remediation", BlastRadiusAutoRemediation.self, required: true) else { return nil }
        return BlastRadiusPolicy(
            level: level, description: f.text("description"), autoRemediation: mode, approvalRequired: f.bool("approval_required") ?? false,
            approvalRequiredIf: context.preconditions(f["approval_required_if"], "'approval_required_if'", checksNamed: false),
            requireSignOff: f.strings("require_sign_off") ?? [], examples: f.texts("examples") ?? [], maxImpact: f.text("max_impact"),
            location: pair.keyNode.location)
    }

    /// `- wait: 5_minutes`, `- max_instances_affected: 1`: one-key maps, kept in order.
    private func keyedItems(_ node: SourceNode?, _ what: String) -> [KeyedItem] {
        guard let node, let items = context.list(node, what) else { return [] }
        return items.compactMap { item in
            if let s = item.scalar { return KeyedItem(key: s.text, value: "") }
            guard let pairs = item.mapping, pairs.count == 1, let pair = pairs.first else {
                context.report(.wrongType, "an item of \(what) must be one 'key: value', found \(item.kindDescription)", at: item.location)
                return nil
            }
            guard let value = context.text(pair.value, "'\(pair.key)'") else { return nil }
            return KeyedItem(key: pair.key, value: value)
        }
    }

    private func containmentStrategy(_ pair: SourceNode.Pair) -> ContainmentStrategy? {
        let keys = ["description", "trigger", "triggers", "action", "cooldown", "strategy", "abort_on", "restrictions", "applies_to", "windows"]
        guard let f = context.fields(pair.value, "containment strategy '\(pair.key)'", known: keys) else { return nil }
        return ContainmentStrategy(
            name: pair.key, description: f.text("description"), triggers: (f.texts("trigger") ?? []) + (f.texts("triggers") ?? []),
            actions: f.texts("action") ?? [], cooldown: f.duration("cooldown"), strategy: keyedItems(f["strategy"], "'strategy'"),
            abortOn: f.condition("abort_on"), restrictions: keyedItems(f["restrictions"], "'restrictions'"),
            appliesTo: f.texts("applies_to") ?? [], windows: f.texts("windows") ?? [], location: pair.keyNode.location)
    }

    private func rollbackStrategy(_ pair: SourceNode.Pair) -> RollbackStrategy? {
        let keys = ["description", "triggers", "implementation", "verification", "use_when", "steps", "maintains", "procedure"]
        guard let f = context.fields(pair.value, "rollback strategy '\(pair.key)'", known: keys) else { return nil }
        return RollbackStrategy(
            name: pair.key, description: f.text("description"), triggers: f.texts("triggers") ?? [],
            implementation: keyedItems(f["implementation"], "'implementation'"), verification: f.texts("verification") ?? [],
            useWhen: f.texts("use_when") ?? [], steps: keyedItems(f["steps"], "'steps'"), maintains: f.texts("maintains") ?? [],
            procedure: f.texts("procedure") ?? [], location: pair.keyNode.location)
    }

    private func verificationState(_ pair: SourceNode.Pair) -> VerificationStatePolicy? {
        guard let state = context.enumValue(pair.keyNode, "verification state", VerificationState.self),
              let f = context.fields(pair.value, "verification state '\(pair.key)'", known: ["description", "criteria", "actions"]) else {
            return nil
        }
        return VerificationStatePolicy(state: state, description: f.text("description"), criteria: keyedItems(f["criteria"], "'criteria'"),
                                       actions: f.texts("actions") ?? [], location: pair.keyNode.location)
    }

    private func knowledgeBaseFile(_ pair: SourceNode.Pair) -> KnowledgeBaseFile? {
        guard let f = context.fields(pair.value, "knowledge base entry '\(pair.key)'", known: ["file", "schema"]),
              let file = f.string("file", required: true) else { return nil }
        var fields: [KnowledgeBaseFile.Field] = []
        if let schema = f.required("schema") {
            guard let pairs = schema.mapping else {
                context.report(.wrongType, "'schema' must map field names to types, found \(schema.kindDescription)", at: schema.location)
                return nil
            }
            for field in pairs {
                if let s = field.value.scalar {
                    fields.append(.init(name: field.key, type: s.text))
                } else if let items = field.value.sequence {
                    fields.append(.init(name: field.key, type: "[" + items.compactMap { $0.scalar?.text }.joined(separator: ", ") + "]"))
                } else {
                    context.report(.wrongType, "the type of '\(field.key)' must be a word or a list", at: field.value.location)
                }
            }
        }
        return KnowledgeBaseFile(name: pair.key, file: file, fields: fields, location: pair.keyNode.location)
    }
}
