import Foundation

/// What carrying out a remembered cure did (seed-systems §1: "the result records total /
/// succeeded / failed actions, durations and errors"): one line of `immune-cures.jsonl` in the
/// knowledge base, and the `--json` answer of `medic memory apply`.
///
/// Times are RFC 3339 in UTC with milliseconds; durations are seconds.
public struct ImmuneCureRecord: Sendable, Equatable, Codable {
    /// How one action ended.
    public enum Status: String, Sendable, Hashable, Codable {
        /// Its owner acknowledged it (a webhook's 2xx answer), or the bus took it durably where
        /// the bus gives no acknowledgement (the outbox, standard output: `acknowledged` false).
        case succeeded
        /// Its owner answered with a failure, or it could not be published.
        case failed
        /// No answer within the action's timeout.
        case timedOut = "timed_out"
    }

    public struct Action: Sendable, Equatable, Codable {
        public var type: RemediationActionType
        public var topic: String
        public var playbookID: String
        public var action: String
        public var priority: Int
        /// The action's own timeout, seconds.
        public var timeout: Double
        public var status: Status
        /// Whether the owner answered (only a webhook bus answers).
        public var acknowledged: Bool
        public var seconds: Double
        /// The CloudEvent's id, when it was made.
        public var eventID: String?
        /// Why it did not succeed.
        public var error: String?

        public init(type: RemediationActionType, topic: String, playbookID: String, action: String, priority: Int, timeout: Double,
                    status: Status, acknowledged: Bool, seconds: Double, eventID: String?, error: String?) {
            self.type = type
            self.topic = topic
            self.playbookID = playbookID
            self.action = action
            self.priority = priority
            self.timeout = timeout
            self.status = status
            self.acknowledged = acknowledged
            self.seconds = seconds
            self.eventID = eventID
            self.error = error
        }

        private enum CodingKeys: String, CodingKey {
            case type, topic, playbookID = "playbook_id", action, priority, timeout, status, acknowledged, seconds
            case eventID = "event_id", error
        }
    }

    /// An action of the cure that is not carried out on the bus (a playbook step, run by its playbook).
    public struct Skipped: Sendable, Equatable, Codable {
        public var playbookID: String
        public var action: String
        public var reason: String

        public init(playbookID: String, action: String, reason: String) {
            self.playbookID = playbookID
            self.action = action
            self.reason = reason
        }

        private enum CodingKeys: String, CodingKey { case playbookID = "playbook_id", action, reason }
    }

    /// Unique; every event of the cure carries it (`data.cure_id`, and its source `medic/runs/<cure id>`).
    public var cureID: String
    public var signatureID: String
    public var faultType: String
    public var pattern: String
    /// `outbox`, `webhook` or `stdout`.
    public var transport: String
    public var startedAt: String
    public var finishedAt: String
    public var seconds: Double
    /// The actions carried out on the bus, in priority order; `total` counts them.
    public var total: Int
    public var succeeded: Int
    /// Failed and timed out.
    public var failed: Int
    public var actions: [Action]
    public var skipped: [Skipped]

    public init(cureID: String, signatureID: String, faultType: String, pattern: String, transport: String,
                startedAt: Date, finishedAt: Date, seconds: Double, actions: [Action], skipped: [Skipped]) {
        self.cureID = cureID
        self.signatureID = signatureID
        self.faultType = faultType
        self.pattern = pattern
        self.transport = transport
        self.startedAt = startedAt.formatted(Self.timeStyle)
        self.finishedAt = finishedAt.formatted(Self.timeStyle)
        self.seconds = seconds
        self.total = actions.count
        self.succeeded = actions.filter { $0.status == .succeeded }.count
        self.failed = actions.count - succeeded
        self.actions = actions
        self.skipped = skipped
    }

    static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    private enum CodingKeys: String, CodingKey {
        case cureID = "cure_id", signatureID = "signature_id", faultType = "fault_type", pattern, transport
        case startedAt = "started_at", finishedAt = "finished_at", seconds, total, succeeded, failed, actions, skipped
    }
}

/// The records of cures carried out, kept in a knowledge store's `immune-cures.jsonl`.
public enum ImmuneCureLog {
    /// Appends `record` durably.
    public static func append(_ record: ImmuneCureRecord, to store: any KnowledgeStore) throws {
        try store.append(encoding: record, to: .immuneCures)
    }

    /// Every record, oldest first (of the signature `signatureID` or a prefix of it, when given);
    /// lines that are not records are reported as problems and skipped.
    public static func records(in store: any KnowledgeStore, signatureID: String? = nil) throws
        -> (records: [ImmuneCureRecord], problems: [KnowledgeProblem]) {
        var records: [ImmuneCureRecord] = []
        var problems: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        problems += try store.forEachLine(in: .immuneCures) { line, number in
            guard let record = try? decoder.decode(ImmuneCureRecord.self, from: Data(line)) else {
                problems.append(KnowledgeProblem(kind: .corruptLine, path: "\(store.location)/\(KnowledgeFile.immuneCures.name)", line: number,
                                                 message: "not a cure record; skipped"))
                return
            }
            if let signatureID, !record.signatureID.hasPrefix(signatureID) { return }
            records.append(record)
        }
        return (records, problems)
    }
}
