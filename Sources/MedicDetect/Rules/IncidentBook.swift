import MedicModel

/// One rule's incidents: at most one active per incident key, the series of the key that are
/// firing, and the keys cooling down after an incident resolved.
///
/// Memory: per active incident, the incident and its firing series; per key that has resolved
/// with a cooldown, 8 bytes + the key until a firing finds the cooldown over. Keys come from
/// series, which a rule caps, so both are bounded.
struct IncidentBook: Sendable {
    struct Active: Sendable {
        var incident: Incident
        /// Series of the key that are firing now; empty while the incident waits to resolve.
        var firing: Set<SeriesIdentity>
        /// When the last firing series went back to normal.
        var quietSince: Double?
        /// Bumped whenever the incident becomes quiet, so that an older resolution entry is void.
        var generation = 0
    }

    /// A firing series' sample, as the rule saw it.
    struct Firing {
        var member: SeriesIdentity
        /// True on the sample that made the series fire; false on the samples after it.
        var started: Bool
        var incidentKey: String
        var sample: Sample
        var score: Double
        var firstSeen: Double
    }

    private(set) var active: [String: Active] = [:]
    private var cooldownUntil: [String: Double] = [:]

    /// A firing sample: folds into the key's incident, or opens one (unless the key is cooling
    /// down), and says so once per firing episode.
    mutating func fire(_ f: Firing, rule: RuleDefinition, statistics: inout RuleStatistics, events: inout [RuleEvent]) {
        // Mutated in place through the dictionary's index: a copy of the entry would copy its
        // set of firing series on every sample.
        if let index = active.index(forKey: f.incidentKey) {
            if active.values[index].firing.insert(f.member).inserted {
                active.values[index].quietSince = nil
                if f.started {
                    active.values[index].incident.firings += 1
                    statistics.foldedFirings += 1
                    events.append(.suppressed(Suppression(rule: rule.name, incidentKey: f.incidentKey, seriesKey: f.sample.seriesKey,
                                                          time: f.sample.time, value: f.sample.value, reason: .alreadyFiring)))
                }
            }
            active.values[index].incident.fold(value: f.sample.value, time: f.sample.time, score: f.score)
            return
        }
        if let until = cooldownUntil[f.incidentKey] {
            if f.sample.time < until {
                if f.started {
                    statistics.suppressedByCooldown += 1
                    events.append(.suppressed(Suppression(rule: rule.name, incidentKey: f.incidentKey, seriesKey: f.sample.seriesKey,
                                                          time: f.sample.time, value: f.sample.value, reason: .cooldown(until: until))))
                }
                return
            }
            cooldownUntil[f.incidentKey] = nil
        }
        var incident = Incident(
            rule: rule.name, incidentKey: f.incidentKey, seriesKey: f.sample.seriesKey, metric: f.sample.metric,
            labels: f.sample.labels, value: f.sample.value, score: f.score, severity: rule.severity, playbook: rule.playbook,
            parameters: rule.parameters(labels: f.sample.labels), firstSeen: f.firstSeen, firedAt: f.sample.time, firings: 1,
            lastValue: f.sample.value, lastSeen: f.sample.time, peakValue: f.sample.value, peakScore: f.score)
        incident.alternatives = rule.alternatives
        active[f.incidentKey] = Active(incident: incident, firing: [f.member])
        statistics.incidents += 1
        events.append(.firing(incident))
    }

    /// A series of the key stopped firing; returns the generation to resolve at, when it was the
    /// key's last firing series.
    mutating func recover(_ member: SeriesIdentity, incidentKey: String, time: Double) -> Int? {
        guard let index = active.index(forKey: incidentKey), active.values[index].firing.remove(member) != nil,
              active.values[index].firing.isEmpty else { return nil }
        active.values[index].quietSince = time
        active.values[index].generation += 1
        return active.values[index].generation
    }

    /// Resolves the key's incident if it is still quiet since the recovery of `generation`.
    mutating func resolve(incidentKey: String, generation: Int, cooldown: Double?) -> Incident? {
        guard let entry = active[incidentKey], entry.generation == generation, entry.firing.isEmpty,
              let quietSince = entry.quietSince else { return nil }
        active[incidentKey] = nil
        var incident = entry.incident
        incident.resolvedAt = quietSince
        if let cooldown, cooldown > 0 { cooldownUntil[incidentKey] = quietSince + cooldown }
        return incident
    }
}

extension Incident {
    /// A later firing sample of the incident's key.
    mutating func fold(value: Double, time: Double, score: Double) {
        lastValue = value
        lastSeen = time
        if score > peakScore {
            peakScore = score
            peakValue = value
        }
    }
}
