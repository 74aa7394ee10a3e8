/// A safety gate's name, as verdicts, journals (`gates_evaluated`), `medic plan --json` and the
/// bus (`dev.medic.run.refused`) spell it.
///
/// The cases are declared in the order the gates run (docs/running.md, "Safety gates"), and
/// `GatePipeline.standard` is built from `allCases`: that order lives here and nowhere else.
///
/// Any other spelling is refused with a decoding error naming it: this Medic never wrote one,
/// and a journal line that holds one is reported as damaged, like any line that cannot be read,
/// rather than taken as a verdict of a gate Medic does not know.
public enum GateID: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case killSwitch = "kill_switch"
    case severityPolicy = "severity_policy"
    case blastRadius = "blast_radius"
    case safeMode = "safe_mode"
    case breaker
    case rateLimit = "rate_limit"
    case maintenanceWindow = "maintenance_window"
    case approval
    case preconditions
    case targetLock = "target_lock"

    /// The JSON spelling, which is also what text output prints.
    public var description: String { rawValue }

    /// The gate of this name, with its standard settings.
    var standardGate: any Gate {
        switch self {
        case .killSwitch: return KillSwitchGate()
        case .severityPolicy: return SeverityPolicyGate()
        case .blastRadius: return BlastRadiusGate()
        case .safeMode: return SafeModeGate()
        case .breaker: return BreakerGate()
        case .rateLimit: return RateLimitGate()
        case .maintenanceWindow: return MaintenanceWindowGate()
        case .approval: return ApprovalGate()
        case .preconditions: return PreconditionGate()
        case .targetLock: return TargetLockGate()
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let spelling = try container.decode(String.self)
        guard let gate = GateID(rawValue: spelling) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "gate '\(spelling)' is none of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = gate
    }
}
