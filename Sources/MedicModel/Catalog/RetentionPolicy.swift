/// `retention:` — how long the state directory keeps what it no longer needs (`medic prune`).
///
/// A finished run's journal may go once it is older than `runsMaxAge` (by the time it finished)
/// and not among the newest `runsKeepAtLeast` finished runs; beyond the newest `runsKeepAtMost`
/// it may go whatever its age. What a gate still counts, or a run that has not finished, is
/// never pruned, whatever these say (`medic prune` decides that, not the policy). Incident
/// records of the knowledge base are pruned only when `knowledgeMaxAge` is set, by the time
/// their run started. What goes is moved under `<state-dir>/archive/` unless `disposal` is
/// `delete`; what is in the archive is removed once it is older than `archiveMaxAge`, when set.
public struct RetentionPolicy: Sendable, Hashable, Codable {
    /// What `medic prune` does with what it prunes.
    public enum Disposal: String, Sendable, Hashable, Codable, CaseIterable {
        /// Moved under `<state-dir>/archive/`, from where a person can move it back.
        case archive
        /// Removed for good.
        case delete
    }

    /// The policy when no policy file declares `retention:`.
    public static let defaults = RetentionPolicy()

    /// The shortest `knowledge.max_age`: the windows of `medic kb advise` and `medic kb update`
    /// (30 days by default) must still find every record they read.
    public static let shortestKnowledgeMaxAge = Interval(seconds: 30 * 86_400)

    public var runsMaxAge: Interval
    public var runsKeepAtLeast: Int
    public var runsKeepAtMost: Int?
    /// nil: incident records are kept for ever (the whole-history figures need them).
    public var knowledgeMaxAge: Interval?
    public var disposal: Disposal
    /// nil: the archive is kept for ever. Else an archived journal or incident segment last
    /// written longer ago than this (a journal when its run ended, a segment when the prune
    /// wrote it) is removed by `medic prune`.
    public var archiveMaxAge: Interval?
    /// nil: never by itself. Else how often `medic serve` sharing a database (`--store`) prunes
    /// it, one server at a time (a state directory is pruned by `medic prune`, from cron).
    public var every: Interval?
    public var location: SourceLocation?

    public init(runsMaxAge: Interval = Interval(seconds: 90 * 86_400), runsKeepAtLeast: Int = 100, runsKeepAtMost: Int? = nil,
                knowledgeMaxAge: Interval? = nil, disposal: Disposal = .archive, archiveMaxAge: Interval? = nil,
                every: Interval? = nil, location: SourceLocation? = nil) {
        self.runsMaxAge = runsMaxAge
        self.runsKeepAtLeast = runsKeepAtLeast
        self.runsKeepAtMost = runsKeepAtMost
        self.knowledgeMaxAge = knowledgeMaxAge
        self.disposal = disposal
        self.archiveMaxAge = archiveMaxAge
        self.every = every
        self.location = location
    }
}
