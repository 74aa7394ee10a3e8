import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a real, safe remediation on embedded defaults: flood a sandbox with logs, then clean it up.",
        discussion: """
            The demo playbook and its actions are built into Medic. It fills a sandbox directory \
            (<state-dir>/demo-sandbox) with log files, as a runaway service would, then compresses \
            the old ones and truncates the oversized active ones, and verifies the result with the \
            built-in host metrics path_size_bytes and disk_usage_percent. It goes through the same \
            stages as `medic run`: the safety gates (a `medic pause` refuses it too, unless \
            --force), the host's target lock, the shell executor and the journal; nothing outside \
            the sandbox is touched. Afterwards `medic runs` and `medic show RUN` tell what it did.

            Examples:
              medic demo
              medic demo --size-mb 64 --json
              medic demo --print-library     the playbook and actions it runs, as YAML
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(name: .customLong("size-mb"), help: "How many MiB of logs to write into the sandbox (1...1024).")
    var sizeMB = 8

    @Flag(help: "Run although Medic is paused (`medic pause`).")
    var force = false

    @Flag(help: "Print the run's report as JSON at the end instead of progress lines.")
    var json = false

    @Flag(name: .customLong("print-library"), help: "Print the embedded playbook and actions and exit.")
    var printLibrary = false

    mutating func validate() throws {
        guard (1...1024).contains(sizeMB) else { throw ValidationError("--size-mb must be between 1 and 1024") }
    }

    mutating func run() async throws {
        if printLibrary {
            printLine("# actions/demo.yaml\n\(DemoLibrary.actions)\n# playbooks/demo-log-flood-001.yaml\n\(DemoLibrary.playbook)")
            return
        }
        // The stages of `medic run`: catalog, plan, gates, execution (target locks included).
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(documents: [
                ("embedded:actions/demo.yaml", Array(DemoLibrary.actions.utf8)),
                ("embedded:playbooks/demo-log-flood-001.yaml", Array(DemoLibrary.playbook.utf8)),
            ])
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure(DiagnosticRenderer.text(failure.errors))
        }
        guard let playbook = catalog.playbooks.first else { throw CommandFailure("error: the embedded demo library has no playbook") }
        let interpreter = try engine.interpreter(root: ".")  // first: a bad engine option creates no state directory
        let sandbox = URL(fileURLWithPath: engine.stateDirectoryPath).standardizedFileURL.appendingPathComponent("demo-sandbox").path
        let ungated: Plan
        do {
            ungated = try PlanStage(catalog: catalog).run(PlanRequest(playbook: playbook,
                                                                      parameters: ["sandbox": sandbox, "size_mb": String(sizeMB)]))
        } catch PlanStage.Failure.invalid(let error) {
            throw ValidationError(error.description)
        }
        let request = GateRequest(mode: .manual, force: force)
        let gates = engine.gates(catalog, for: interpreter)
        let plan = GateOptions.logged(await gates.run(ungated, request, now: interpreter.clock.now), mode: request.mode)
        if !json {
            writeOut("Demo: a log flood in \(sandbox), remediated by \(plan.playbookID) (\(plan.steps.count) steps, verified by host metrics)\n")
        }
        let execution = ExecutionStage(interpreter: interpreter, stores: try engine.stores(of: interpreter))
        let report = try await RunOutput.carryOut(json: json, stopping: interpreter.environment) { observe in
            try await execution.run(plan, RunRequest(mode: request.mode), observe: observe)
        }
        if !json {
            let stateOption = engine.stateDirectory.map { " --state-dir \(PlanRenderer.shellQuoted($0))" } ?? ""
            printLine("Next: medic runs\(stateOption)    medic show \(report.runID)\(stateOption)")
        }
        throw ExitCode(report.outcome?.exitCode ?? 1)
    }
}

/// The demo's playbook and actions, as an operator would write them.
enum DemoLibrary {
    static let actions = """
        actions:
          demo_flood_logs:
            type: infrastructure
            description: Write log files into the sandbox as a runaway service would; half of them dated ten days back.
            risk_level: low
            parameters:
              sandbox: required
              size_mb: {type: integer, default: 8}
            implementation: |
              mkdir -p "${sandbox}"
              i=1
              while [ "$i" -le "${size_mb}" ]; do
                head -c 1048576 /dev/zero > "${sandbox}/service-$i.log"
                if [ $((i % 2)) -eq 0 ]; then touch -d '10 days ago' "${sandbox}/service-$i.log"; fi
                i=$((i + 1))
              done
              echo "flooded_bytes=$(du -sb "${sandbox}" | cut -f1)" >> "$MEDIC_OUTPUT"
            outputs: [flooded_bytes]
            verification: test -n "$(find "${sandbox}" -name '*.log' -print -quit)"

          demo_compress_old_logs:
            type: infrastructure
            description: Compress log files older than a day (gzip keeps their content).
            risk_level: low
            parameters:
              sandbox: required
            implementation: |
              find "${sandbox}" -name '*.log' -mtime +1 -exec gzip -9f {} +
              echo "compressed=$(find "${sandbox}" -name '*.log.gz' | wc -l)" >> "$MEDIC_OUTPUT"
            outputs: [compressed]
            verification: test -z "$(find "${sandbox}" -name '*.log' -mtime +1 -print -quit)"

          demo_truncate_large_logs:
            type: infrastructure
            description: Truncate active log files above a size in place, as logrotate's copytruncate does.
            risk_level: medium
            idempotent: true
            parameters:
              sandbox: required
              max_size: {type: size, default: 512KB}
            implementation: |
              find "${sandbox}" -name '*.log' -size +"$((${max_size} / 1024))"k -exec sh -c ': > "$1"' sh {} \\;
              echo "remaining_bytes=$(du -sb "${sandbox}" | cut -f1)" >> "$MEDIC_OUTPUT"
            outputs: [remaining_bytes]
        """

    static let playbook = """
        playbook_id: demo-log-flood-001
        name: Log flood in the demo sandbox
        version: 1.0.0
        description: A service floods its log directory; compress the old logs and truncate the oversized active ones.
        category: infrastructure
        severity: SEV3
        trigger:
          condition: 'path_size_bytes{path="${sandbox}"} > 4MB'
        parameters:
          sandbox: {type: string, required: true, description: The sandbox directory}
          size_mb: {type: integer, default: 8, description: MiB of logs to write}
        remediation_steps:
          - step: 1
            name: Simulate the log flood
            action: demo_flood_logs
            timeout: 2m
          - step: 2
            name: Compress logs older than a day
            action: demo_compress_old_logs
            timeout: 2m
            retry: {attempts: 2, backoff: exponential, initial: 1s}
          - step: 3
            name: Truncate oversized active logs
            action: demo_truncate_large_logs
            timeout: 1m
        verification:
          check: 'path_size_bytes{path="${sandbox}"} < 1MB AND disk_usage_percent{path="${sandbox}"} < 100'
        rollback:
          available: false
          reason: truncated log data cannot be restored
        escalation:
          on_failure: true
          notify: [demo_operator]
        safety:
          max_retries: 1
          blast_radius: single_host
        metadata:
          owner: medic-demo
        """
}
