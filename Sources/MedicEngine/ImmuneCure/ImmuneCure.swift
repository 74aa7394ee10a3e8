import Foundation
import MedicKnowledge

/// Carries out a remembered cure on the bus (seed-systems §1): each of the entry's typed
/// actions (`RemediationActionType`) is published as a CloudEvent on its topic, the way the bus
/// executor publishes a step's, for the system that owns the topic to carry it out. Actions run
/// one at a time in priority order (lowest first), each with its own timeout; a failed action
/// does not stop the next (each is its own remedy, and the record counts them all). Actions
/// without a type are playbook steps, carried out by running their playbook: they are listed as
/// skipped.
///
/// The acknowledgement is the bus's: a webhook's answer within the action's timeout (2xx:
/// succeeded; another status or no connection: failed; no answer: timed out). The outbox and
/// standard output give none: an action they took durably counts as succeeded, unacknowledged.
public struct ImmuneCure: Sendable {
    public var bus: any StepExecutor
    /// The transport's name for the record: `outbox`, `webhook`, `stdout`.
    public var transport: String
    /// Whether the bus answers for the owner (a webhook), so a success means it was carried out.
    public var acknowledges: Bool
    /// The record's start and end times.
    public var clock: any EngineClock

    public init(bus: any StepExecutor, transport: String, acknowledges: Bool, clock: any EngineClock = SystemClock()) {
        self.bus = bus
        self.transport = transport
        self.acknowledges = acknowledges
        self.clock = clock
    }

    /// Publishes through `bus`, as its transport allows.
    public init(bus: BusExecutor) {
        switch bus.transport {
        case .outbox: self.init(bus: bus, transport: "outbox", acknowledges: false, clock: bus.clock)
        case .webhook: self.init(bus: bus, transport: "webhook", acknowledges: true, clock: bus.clock)
        case .stdout: self.init(bus: bus, transport: "stdout", acknowledges: false, clock: bus.clock)
        }
    }

    /// A new cure id: `cure-` and a UUID.
    public static func newCureID() -> String { "cure-" + UUID().uuidString.lowercased() }

    /// Carries out `entry`'s typed actions and returns the record (nothing is stored here).
    public func carryOut(_ entry: ImmuneMemoryEntry, cureID: String = ImmuneCure.newCureID()) async -> ImmuneCureRecord {
        let startedAt = clock.now
        let started = ContinuousClock.now
        let ordered = entry.actions.sorted { ($0.priority, $0.playbookID, $0.action) < ($1.priority, $1.playbookID, $1.action) }
        var done: [ImmuneCureRecord.Action] = []
        var skipped: [ImmuneCureRecord.Skipped] = []
        for action in ordered {
            guard let type = action.type else {
                skipped.append(.init(playbookID: action.playbookID, action: action.action,
                                     reason: "a playbook step, carried out by running playbook \(action.playbookID)"))
                continue
            }
            done.append(await carryOut(action, type: type, number: done.count + 1, entry: entry, cureID: cureID))
        }
        return ImmuneCureRecord(cureID: cureID, signatureID: entry.id, faultType: entry.signature.faultType, pattern: entry.signature.pattern,
                                transport: transport, startedAt: startedAt, finishedAt: clock.now,
                                seconds: Self.seconds(since: started), actions: done, skipped: skipped)
    }

    /// The event's data: the action's parameters, then what the cure is (`RemediationActionType.cureDataKeys`).
    static func data(of action: RemediationAction, type: RemediationActionType, entry: ImmuneMemoryEntry, cureID: String) -> [String: String] {
        var data = action.parameters ?? [:]
        data["cure_id"] = cureID
        data["action_type"] = type.rawValue
        data["signature_id"] = entry.id
        data["fault_type"] = entry.signature.faultType
        data["components"] = entry.signature.components.joined(separator: ",")
        data["pattern"] = entry.signature.pattern
        data["playbook_id"] = action.playbookID
        data["action"] = action.action
        data["priority"] = String(action.priority)
        data["timeout"] = String(action.timeout)
        return data
    }

    private func carryOut(_ action: RemediationAction, type: RemediationActionType, number: Int, entry: ImmuneMemoryEntry,
                          cureID: String) async -> ImmuneCureRecord.Action {
        let request = ExecutionRequest(
            runID: cureID, stepNumber: number, stepName: action.action, action: type.rawValue, purpose: .step, executor: .bus,
            topic: type.topic, parameters: Self.data(of: action, type: type, entry: entry, cureID: cureID), timeout: action.timeout)
        let started = ContinuousClock.now
        func record(_ status: ImmuneCureRecord.Status, acknowledged: Bool, eventID: String?, error: String?) -> ImmuneCureRecord.Action {
            ImmuneCureRecord.Action(type: type, topic: type.topic, playbookID: action.playbookID, action: action.action,
                                    priority: action.priority, timeout: action.timeout, status: status, acknowledged: acknowledged,
                                    seconds: Self.seconds(since: started), eventID: eventID, error: error)
        }
        do {
            let result = try await bus.execute(request)
            let eventID = result.outputs["event_id"]
            if result.succeeded { return record(.succeeded, acknowledged: acknowledges, eventID: eventID, error: nil) }
            // A refusal's answer (its body) is what its owner said went wrong.
            let answer = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let error = answer.isEmpty ? result.summary : "\(result.summary): \(answer.prefix(512))"
            if result.timedOut { return record(.timedOut, acknowledged: false, eventID: eventID, error: error) }
            return record(.failed, acknowledged: result.exitStatus != nil, eventID: eventID, error: error)
        } catch {
            return record(.failed, acknowledged: false, eventID: nil, error: "\(error)")
        }
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

extension RemediationActionType {
    /// The type a step of a plan carries out: a bus step on one of the nine topics is remembered
    /// as that type (without its parameters, which were the incident's), so the cure can later
    /// be carried out on the bus; nil for any other step.
    static func carriedOut(by step: PlannedStep) -> RemediationActionType? {
        step.executor == .bus ? step.topic.flatMap(RemediationActionType.init(topic:)) : nil
    }
}
