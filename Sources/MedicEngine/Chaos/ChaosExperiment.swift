import Foundation
import MedicModel

/// One thing a chaos experiment does or looks at: a shell script, a program with its arguments
/// (Chaos Toolkit's `process` provider) or an HTTP request (its `http` provider). Codable: the
/// experiment's journal keeps the revert and teardown activities whole, so that a later Medic can
/// carry them out without the experiment's file.
public struct ChaosActivity: Sendable, Codable, Hashable {
    public enum Kind: Sendable, Codable, Hashable {
        /// `/bin/sh -c SCRIPT`, the activity's `environment` as variables.
        case shell(script: String)
        /// A program: `arguments` passed one by one, or `argumentLine` split as the shell splits it.
        case process(path: String, arguments: [String], argumentLine: String?)
        case http(ChaosHTTPCall)
    }

    public var name: String
    public var kind: Kind
    /// Variables the shell or the program sees (never spliced into its text).
    public var environment: [String: String]
    /// Seconds the activity may take.
    public var timeout: Double
    public var pauseBefore: Double
    public var pauseAfter: Double
    /// For a probe: what its answer must be to hold. Nil: it must succeed (exit 0, HTTP 2xx).
    public var tolerance: ChaosTolerance?
    /// Its failure does not stop the injection (a Chaos Toolkit method goes on after one).
    public var mayFail = false

    public init(name: String, kind: Kind, environment: [String: String] = [:], timeout: Double = 30,
                pauseBefore: Double = 0, pauseAfter: Double = 0, tolerance: ChaosTolerance? = nil) {
        self.name = name
        self.kind = kind
        self.environment = environment
        self.timeout = timeout
        self.pauseBefore = pauseBefore
        self.pauseAfter = pauseAfter
        self.tolerance = tolerance
    }
}

public struct ChaosHTTPCall: Sendable, Codable, Hashable {
    public var url: String
    public var method: String
    public var headers: [String: String]
    public var body: String?

    public init(url: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
    }
}

/// When a probe's answer holds (Chaos Toolkit's tolerances, which Medic's own probes share).
public enum ChaosTolerance: Sendable, Codable, Hashable {
    /// The exit status (a process, a shell) or the HTTP status is one of these.
    case status([Int])
    /// The status lies in this closed range.
    case statusRange(Double, Double)
    /// The output (stdout, or the response body), blanks trimmed, is this text.
    case output(String)
    /// The output matches this regular expression somewhere.
    case regex(String)
    /// The activity succeeded (exit 0, HTTP 2xx) or did not, as given.
    case succeeded(Bool)
    /// It ran (exited, or got an HTTP answer), whatever it answered.
    case anyAnswer

    /// Whether an answer with `status` (nil: none, it could not run) and `output` holds.
    public func holds(status: Int?, output: String, succeeded: Bool) -> Bool {
        switch self {
        case .status(let allowed): return status.map(allowed.contains) ?? false
        case .statusRange(let low, let high): return status.map { Double($0) >= low && Double($0) <= high } ?? false
        case .output(let text): return status != nil && output.trimmingCharacters(in: .whitespacesAndNewlines) == text
        case .regex(let pattern):
            guard status != nil, let expression = try? NSRegularExpression(pattern: pattern) else { return false }
            return expression.firstMatch(in: output, range: NSRange(output.startIndex..., in: output)) != nil
        case .succeeded(let expected): return succeeded == expected
        case .anyAnswer: return status != nil
        }
    }

    public var description: String {
        switch self {
        case .status(let allowed): "status in \(allowed.map(String.init).joined(separator: ", "))"
        case .statusRange(let low, let high): "status in \(low)...\(high)"
        case .output(let text): "output '\(text)'"
        case .regex(let pattern): "output matching /\(pattern)/"
        case .succeeded(let expected): expected ? "succeeds" : "fails"
        case .anyAnswer: "an answer"
        }
    }
}

/// A chaos experiment, read from Medic's format or from Chaos Toolkit's: the steady state that
/// must hold before and again after, the fault (its injection and its revert), the targets it
/// may touch, and what Medic is expected to do about it.
public struct ChaosExperiment: Sendable {
    public enum Format: String, Sendable, Codable { case medic, chaosToolkit = "chaos-toolkit" }

    public var id: String
    public var title: String
    public var format: Format
    public var file: String
    /// The fault as the immune memory knows it (`fault_type`, `pattern`; the targets are its components).
    public var faultType: String
    public var pattern: String
    public var targets: [TargetSpec]
    public var setup: [ChaosActivity] = []
    public var steadyState: [ChaosActivity] = []
    public var inject: [ChaosActivity] = []
    /// Always carried out once the injection may have begun, whatever happened.
    public var revert: [ChaosActivity] = []
    public var teardown: [ChaosActivity] = []
    /// The rules whose incident is the detection of this fault (empty: any rule's).
    public var detectionRules: [String] = []
    /// The playbook expected to heal it (nil: any playbook whose run succeeds).
    public var playbook: String?
    /// Seconds from the fault to its incident, and to the steady state verified again.
    public var detectWithin: Double = 60
    public var recoverWithin: Double = 120
    /// Seconds the steady state may take to hold after the setup.
    public var steadyStateWithin: Double = 15
    /// The blast radius: more incidents than this during the experiment aborts it.
    public var maxIncidents: Int = 1
    /// What this experiment holds that Medic cannot run (Chaos Toolkit's python providers,
    /// controls): said before it starts; such an activity is left out.
    public var unsupported: [String] = []

    public init(id: String, title: String, format: Format, file: String, faultType: String, pattern: String, targets: [TargetSpec]) {
        self.id = id
        self.title = title
        self.format = format
        self.file = file
        self.faultType = faultType
        self.pattern = pattern
        self.targets = targets
    }

    /// The label a target must carry, with the value `true`, before an experiment may touch it.
    public static let allowedLabel = "chaos_allowed"

    /// Why the experiment may not run on its targets, or nil: every target must be labelled
    /// `chaos_allowed: "true"`, and there must be at least one.
    public var targetRefusal: String? {
        guard !targets.isEmpty else {
            return "\(id) names no target: list the targets it touches, each labelled \(Self.allowedLabel): \"true\""
        }
        let refused = targets.filter { $0.labels[Self.allowedLabel]?.lowercased() != "true" }.map(\.name)
        guard refused.isEmpty else {
            return "target(s) \(refused.joined(separator: ", ")) not labelled \(Self.allowedLabel): \"true\"; chaos may touch only targets that allow it"
        }
        return nil
    }
}

/// A fault found in an experiment's file, with its place.
public struct ChaosExperimentError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}
