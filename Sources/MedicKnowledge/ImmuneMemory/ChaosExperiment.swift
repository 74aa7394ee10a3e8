import Foundation

/// The result of a chaos experiment, as `medic memory learn` reads it (seed-systems §1: the
/// memory learns from chaos experiments as from runs). One JSON object:
///
/// ```json
/// {"experiment_id": "exp-42", "fault_type": "network-partition",
///  "components": ["storage-1", "storage-2"], "pattern": "network-partition:storage:2-nodes",
///  "succeeded": true,
///  "remediation": [{"playbook_id": "restart-service-001", "action": "restart", "priority": 1, "timeout": 30}]}
/// ```
///
/// `experiment_id` and `remediation` may be left out (a failed experiment may have none);
/// `priority` defaults to the action's place (1, 2 …) and `timeout` to 30 s. An action may name
/// its `type` (one of `RemediationActionType`'s, such as `"RestartPlugin"`) and `parameters`
/// (an object of strings) for the system that carries it out on the bus. Unknown keys are
/// refused, so a misspelt field is not silently ignored.
public struct ChaosExperimentResult: Sendable, Equatable {
    public var experimentID: String?
    public var signature: FaultSignature
    public var succeeded: Bool
    public var actions: [RemediationAction]

    public init(experimentID: String? = nil, signature: FaultSignature, succeeded: Bool, actions: [RemediationAction]) {
        self.experimentID = experimentID
        self.signature = signature
        self.succeeded = succeeded
        self.actions = actions
    }

    /// What it teaches the memory.
    public var outcome: RemediationOutcome {
        RemediationOutcome(signature: signature, actions: actions, succeeded: succeeded, origin: .chaosExperiment, originID: experimentID)
    }

    /// Every experiment in `text`: one JSON object, a JSON array of them, or JSON lines (one
    /// object a line; blank lines skipped). All or nothing: the first fault throws, naming the
    /// line (JSON lines) or the item (an array) and the field.
    public static func parse(_ text: String, source: String) throws -> [ChaosExperimentResult] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw KnowledgeError("\(source): no experiment: the input is empty") }
        if let whole = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]) {
            if let items = whole as? [Any] {
                guard !items.isEmpty else { throw KnowledgeError("\(source): the list holds no experiment") }
                return try items.enumerated().map { try experiment($1, at: "\(source): item \($0 + 1)") }
            }
            return [try experiment(whole, at: source)]
        }
        var results: [ChaosExperimentResult] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let at = "\(source):\(index + 1)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) else {
                throw KnowledgeError("\(at): not JSON: write one experiment as a JSON object per line, or one JSON object or array")
            }
            results.append(try experiment(object, at: at))
        }
        return results
    }

    private static let keys: Set = ["experiment_id", "fault_type", "components", "pattern", "succeeded", "remediation"]
    private static let actionKeys: Set = ["playbook_id", "action", "priority", "timeout", "type", "parameters"]

    private struct Stored: Decodable {
        struct Action: Decodable {
            var playbook_id: String
            var action: String
            var priority: Int?
            var timeout: Double?
            var type: String?
            var parameters: [String: String]?
        }
        var experiment_id: String?
        var fault_type: String
        var components: [String]
        var pattern: String
        var succeeded: Bool
        var remediation: [Action]?
    }

    private static func experiment(_ value: Any, at: String) throws -> ChaosExperimentResult {
        guard let object = value as? [String: Any] else { throw KnowledgeError("\(at): an experiment must be a JSON object") }
        if let unknown = object.keys.filter({ !keys.contains($0) }).sorted().first {
            throw KnowledgeError("\(at): unknown field '\(unknown)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
        for (index, item) in ((object["remediation"] as? [Any]) ?? []).enumerated() {
            if let action = item as? [String: Any], let unknown = action.keys.filter({ !actionKeys.contains($0) }).sorted().first {
                throw KnowledgeError("\(at): remediation[\(index)]: unknown field '\(unknown)' (known: \(actionKeys.sorted().joined(separator: ", ")))")
            }
        }
        let stored: Stored
        do {
            stored = try JSONDecoder().decode(Stored.self, from: try JSONSerialization.data(withJSONObject: object))
        } catch let error as DecodingError {
            throw KnowledgeError("\(at): \(describe(error))")
        }
        for (key, value) in [("fault_type", stored.fault_type), ("pattern", stored.pattern)] + (stored.experiment_id.map { [("experiment_id", $0)] } ?? [])
        where value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw KnowledgeError("\(at): '\(key)' must not be empty")
        }
        var actions: [RemediationAction] = []
        for (index, action) in (stored.remediation ?? []).enumerated() {
            let place = "\(at): remediation[\(index)]"
            guard !action.playbook_id.isEmpty, !action.action.isEmpty else { throw KnowledgeError("\(place): 'playbook_id' and 'action' must not be empty") }
            if let timeout = action.timeout, !(timeout > 0 && timeout.isFinite) {
                throw KnowledgeError("\(place): 'timeout' must be a number of seconds above 0")
            }
            var type: RemediationActionType?
            if let name = action.type {
                guard let known = RemediationActionType(rawValue: name) else {
                    throw KnowledgeError("\(place): 'type' '\(name)' is not one of \(RemediationActionType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                type = known
            }
            if let parameters = action.parameters {
                guard type != nil else { throw KnowledgeError("\(place): 'parameters' are for an action with a 'type' (carried out on the bus)") }
                if let reserved = parameters.keys.filter(RemediationActionType.cureDataKeys.contains).sorted().first {
                    throw KnowledgeError("\(place): parameter '\(reserved)' is a name the cure's event uses itself "
                                         + "(\(RemediationActionType.cureDataKeys.sorted().joined(separator: ", ")))")
                }
            }
            actions.append(RemediationAction(playbookID: action.playbook_id, action: action.action, priority: action.priority ?? index + 1,
                                             timeout: action.timeout ?? RemediationAction.defaultTimeout, type: type,
                                             parameters: action.parameters?.isEmpty == true ? nil : action.parameters))
        }
        if stored.succeeded && actions.isEmpty {
            throw KnowledgeError("\(at): a succeeded experiment must say what cured the fault: 'remediation' lists no action")
        }
        return ChaosExperimentResult(experimentID: stored.experiment_id,
                                     signature: FaultSignature(faultType: stored.fault_type, components: stored.components, pattern: stored.pattern),
                                     succeeded: stored.succeeded, actions: actions)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing '\(path(context.codingPath + [key]))'"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let expected = type == Bool.self ? "true or false" : type == Int.self ? "a whole number"
                : type == Double.self ? "a number" : type == String.self ? "a string" : "\(type)"
            return "'\(path(context.codingPath))' must be \(expected)"
        case .dataCorrupted(let context):
            return "'\(path(context.codingPath))': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}
