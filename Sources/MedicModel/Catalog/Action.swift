/// A reusable remediation action of the library (§4).
public struct Action: Sendable, Hashable, Codable {
    public var name: String
    public var category: String
    public var executor: ExecutorKind
    public var description: String?
    public var riskLevel: RiskLevel
    public var parameters: [ParameterSpec]
    /// Shell text (POSIX sh) for the `shell` executor; parameters arrive as environment variables.
    public var implementation: ShellScript?
    public var verification: ShellScript?
    /// nil when none is declared or it is written `none`.
    public var rollback: ShellScript?
    public var preconditions: [Precondition]
    /// Names the implementation writes as `key=value` lines to `$MEDIC_OUTPUT`.
    public var outputs: [String]
    public var idempotent: Bool
    public var maintenanceOnly: Bool
    public var timeout: Interval?
    /// CloudEvents type for the `bus` executor.
    public var topic: String?
    public var request: HTTPRequestSpec?
    public var location: SourceLocation

    public init(name: String, category: String, executor: ExecutorKind = .shell, description: String? = nil,
                riskLevel: RiskLevel, parameters: [ParameterSpec] = [], implementation: ShellScript? = nil,
                verification: ShellScript? = nil, rollback: ShellScript? = nil, preconditions: [Precondition] = [],
                outputs: [String] = [], idempotent: Bool = true, maintenanceOnly: Bool = false, timeout: Interval? = nil,
                topic: String? = nil, request: HTTPRequestSpec? = nil, location: SourceLocation) {
        self.name = name
        self.category = category
        self.executor = executor
        self.description = description
        self.riskLevel = riskLevel
        self.parameters = parameters
        self.implementation = implementation
        self.verification = verification
        self.rollback = rollback
        self.preconditions = preconditions
        self.outputs = outputs
        self.idempotent = idempotent
        self.maintenanceOnly = maintenanceOnly
        self.timeout = timeout
        self.topic = topic
        self.request = request
        self.location = location
    }

    public func parameter(named name: String) -> ParameterSpec? { parameters.first { $0.name == name } }
}

/// Shell text with where it starts in its file (line of the first line of the script).
public struct ShellScript: Sendable, Hashable, Codable {
    public var text: String
    public var location: SourceLocation

    public init(_ text: String, location: SourceLocation) {
        self.text = text
        self.location = location
    }
}

public struct HTTPRequestSpec: Sendable, Hashable, Codable {
    public var method: String
    public var url: String
    public var headers: [String: String]
    public var body: String?
    public var expectStatus: [Int]
    public var expectJSON: JSONExpectation?

    public struct JSONExpectation: Sendable, Hashable, Codable {
        public var path: String
        public var equals: String

        public init(path: String, equals: String) {
            self.path = path
            self.equals = equals
        }
    }

    public init(method: String, url: String, headers: [String: String] = [:], body: String? = nil,
                expectStatus: [Int] = [200], expectJSON: JSONExpectation? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.expectStatus = expectStatus
        self.expectJSON = expectJSON
    }
}
