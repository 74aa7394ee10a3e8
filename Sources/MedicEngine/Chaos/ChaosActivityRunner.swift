import Foundation
import MedicModel

/// How one activity ended.
public struct ChaosActivityResult: Sendable, Codable, Hashable {
    public var name: String
    /// It ran and its answer holds (its tolerance, or exit 0 / HTTP 2xx).
    public var succeeded: Bool
    /// The exit status, or the HTTP status; nil when it could not run or was ended by a signal.
    public var status: Int?
    public var summary: String
    public var seconds: Double
}

/// Carries out a chaos experiment's activities through the engine's executors (the shell
/// executor for scripts and programs, the HTTP executor for requests), with executors of its
/// own: stopping the remediation runs' steps (a signal) must not stop the revert that follows.
public struct ChaosActivityRunner: Sendable {
    public let shell: any StepExecutor
    public let http: any StepExecutor
    /// A pause between activities ends early when this says so (a stop was asked for).
    public let stopping: @Sendable () -> Bool

    public init(shell: any StepExecutor, http: any StepExecutor, stopping: @escaping @Sendable () -> Bool = { false }) {
        self.shell = shell
        self.http = http
        self.stopping = stopping
    }

    /// The activity's executor request: a program's arguments go as variables (`CHAOS_ARG_0`
    /// ...), never as text of the script, so no argument can become code.
    static func request(_ activity: ChaosActivity, experiment: String, index: Int) -> ExecutionRequest {
        var parameters = activity.environment
        let request: ExecutionRequest
        switch activity.kind {
        case .shell(let script):
            request = ExecutionRequest(runID: "chaos-\(experiment)", stepNumber: index, stepName: activity.name, action: activity.name,
                                       purpose: .step, executor: .shell, script: script, parameters: parameters, timeout: activity.timeout)
        case .process(let path, let arguments, let line):
            parameters["CHAOS_PROGRAM"] = path
            var script = #"set -- ; i=0; while [ "$i" -lt "$CHAOS_ARGC" ]; do eval "set -- \"\$@\" \"\$CHAOS_ARG_$i\""; i=$((i + 1)); done; exec "$CHAOS_PROGRAM" "$@""#
            parameters["CHAOS_ARGC"] = String(arguments.count)
            for (i, argument) in arguments.enumerated() { parameters["CHAOS_ARG_\(i)"] = argument }
            if let line {
                // Chaos Toolkit splits a string of arguments as a shell would.
                parameters["CHAOS_ARGUMENTS"] = line
                script = #"eval "exec \"\$CHAOS_PROGRAM\" $CHAOS_ARGUMENTS""#
            }
            request = ExecutionRequest(runID: "chaos-\(experiment)", stepNumber: index, stepName: activity.name, action: activity.name,
                                       purpose: .step, executor: .shell, script: script, parameters: parameters, timeout: activity.timeout)
        case .http(let call):
            // Every status is an answer here; the tolerance judges it.
            let spec = HTTPRequestSpec(method: call.method, url: call.url, headers: call.headers, body: call.body, expectStatus: Array(100...599))
            request = ExecutionRequest(runID: "chaos-\(experiment)", stepNumber: index, stepName: activity.name, action: activity.name,
                                       purpose: .step, executor: .http, request: spec, parameters: parameters, timeout: activity.timeout)
        }
        return request
    }

    public func run(_ activity: ChaosActivity, experiment: String, index: Int) async -> ChaosActivityResult {
        await pause(activity.pauseBefore)
        let request = Self.request(activity, experiment: experiment, index: index)
        var result: ChaosActivityResult
        do {
            let answer = try await (request.executor == .http ? http : shell).execute(request)
            let status = answer.exitStatus.map(Int.init)
            let isHTTP = request.executor == .http
            let ran = status != nil && !answer.timedOut
            let plain = isHTTP ? (status.map { (200..<300).contains($0) } ?? false) : answer.succeeded
            let holds = ran && (activity.tolerance?.holds(status: status, output: answer.stdout, succeeded: plain) ?? plain)
            var summary = answer.summary
            if !holds, let tolerance = activity.tolerance { summary += "; expected \(tolerance.description)" }
            if !holds, !answer.stderr.isEmpty { summary += ": " + (answer.stderr.split(separator: "\n").last.map(String.init) ?? "") }
            result = ChaosActivityResult(name: activity.name, succeeded: holds, status: ran ? status : nil, summary: summary, seconds: answer.seconds)
        } catch {
            result = ChaosActivityResult(name: activity.name, succeeded: false, status: nil, summary: "could not run: \(error)", seconds: 0)
        }
        await pause(activity.pauseAfter)
        return result
    }

    /// Every activity in order, however each ends (a revert must try them all).
    public func runAll(_ activities: [ChaosActivity], experiment: String) async -> [ChaosActivityResult] {
        var results: [ChaosActivityResult] = []
        for (index, activity) in activities.enumerated() { results.append(await run(activity, experiment: experiment, index: index + 1)) }
        return results
    }

    /// Whether every probe holds now (all are asked, so the output says which do not).
    public func holds(_ probes: [ChaosActivity], experiment: String) async -> (holds: Bool, results: [ChaosActivityResult]) {
        let results = await runAll(probes, experiment: experiment)
        return (results.allSatisfy(\.succeeded), results)
    }

    private func pause(_ seconds: Double) async {
        var left = seconds
        while left > 0 && !stopping() {
            try? await Task.sleep(nanoseconds: UInt64(min(left, 0.1) * 1e9))
            left -= 0.1
        }
    }
}
