import MedicModel

/// Decodes `retention:` (Medic's own block, read by `medic prune`):
///
/// ```yaml
/// retention:
///   runs: {max_age: 90d, keep_at_least: 100, keep_at_most: 10000}
///   knowledge: {max_age: 400d}
///   disposal: archive        # or delete
///   archive: {max_age: 365d}
///   every: 1d                # medic serve --store prunes the database this often
/// ```
/// Every key may be left out; it keeps `RetentionPolicy.defaults`' value.
struct RetentionDecoder {
    let context: DecodeContext

    func decode(_ node: SourceNode) -> RetentionPolicy? {
        guard let f = context.fields(node, "'retention'", known: ["runs", "knowledge", "disposal", "archive", "every"]) else { return nil }
        var policy = RetentionPolicy(location: node.location)
        var valid = true
        if let runs = f["runs"] {
            if let r = context.fields(runs, "'runs' of retention", known: ["max_age", "keep_at_least", "keep_at_most"]) {
                if let age = positiveDuration(r, "max_age") { policy.runsMaxAge = age } else if r["max_age"] != nil { valid = false }
                if let node = r["keep_at_least"] {
                    if let count = context.integer(node, "'keep_at_least'", min: 0) { policy.runsKeepAtLeast = count } else { valid = false }
                }
                if let node = r["keep_at_most"] {
                    if let count = context.integer(node, "'keep_at_most'", min: 0) { policy.runsKeepAtMost = count } else { valid = false }
                }
                if let most = policy.runsKeepAtMost, most < policy.runsKeepAtLeast, r["keep_at_most"] != nil {
                    context.report(.outOfRange, "'keep_at_most' (\(most)) is below 'keep_at_least' (\(policy.runsKeepAtLeast))",
                                   at: r["keep_at_most"]!.location,
                                   hint: "keep_at_least is \(RetentionPolicy.defaults.runsKeepAtLeast) unless given: raise keep_at_most or lower keep_at_least")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        if let knowledge = f["knowledge"] {
            if let k = context.fields(knowledge, "'knowledge' of retention", known: ["max_age"]) {
                if let age = positiveDuration(k, "max_age") {
                    if age.seconds < RetentionPolicy.shortestKnowledgeMaxAge.seconds {
                        context.report(.outOfRange, "the knowledge base's 'max_age' (\(age)) is shorter than 30 days",
                                       at: k["max_age"]!.location,
                                       hint: "medic kb advise and kb update read the last 30 days of incident records: give 30d or more")
                        valid = false
                    } else {
                        policy.knowledgeMaxAge = age
                    }
                } else if k["max_age"] != nil {
                    valid = false
                }
            } else {
                valid = false
            }
        }
        if let archive = f["archive"] {
            if let a = context.fields(archive, "'archive' of retention", known: ["max_age"]) {
                if let age = positiveDuration(a, "max_age") { policy.archiveMaxAge = age } else if a["max_age"] != nil { valid = false }
            } else {
                valid = false
            }
        }
        if f["every"] != nil {
            if let every = positiveDuration(f, "every") { policy.every = every } else { valid = false }
        }
        if let node = f["disposal"] {
            if let disposal = context.enumValue(node, "'disposal'", RetentionPolicy.Disposal.self) { policy.disposal = disposal } else { valid = false }
        }
        return valid ? policy : nil
    }

    private func positiveDuration(_ f: Fields, _ key: String) -> Interval? {
        guard let node = f[key], let age = context.duration(node, "'\(key)'") else { return nil }
        guard age.seconds > 0 else {
            context.report(.badDuration, "'\(key)' must be longer than 0", at: node.location, hint: "such as 90d")
            return nil
        }
        return age
    }
}
