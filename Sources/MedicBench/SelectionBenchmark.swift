import Foundation
import MedicDetect
import MedicEngine
import MedicKnowledge
import MedicLoader
import MedicModel

/// `select-memory`: choosing the playbook for an incident (ranking and the immune memory's
/// consultation, `PlaybookSelector.select`) with an immune memory of N entries, as a running
/// watch does it (the memory kept while its document is unchanged) against reading the
/// document for every incident (a fresh cache each time), in the same run.
enum SelectionBenchmark {
    static let library: [(String, String)] = [
        ("actions/a.yaml", """
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required}
                implementation: echo clean
            """),
        ("playbooks/p.yaml", """
            playbook_id: clean-001
            name: Clean
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              path: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: clean, action: clean}
            metadata: {}
            """),
        ("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV3
                playbook: clean-001
                parameters_from_labels: {path: path}
                group_by: [host]
            """),
    ]

    static func run(entries: Int, incidents: Int) throws {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        guard !loaded.hasErrors, let rule = loaded.catalog.rules.first else { fatalError(DiagnosticRenderer.text(loaded.diagnostics)) }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = dir.path
        let knowledge = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        let now = Date()
        var memory = ImmuneMemory(capacity: max(entries, 1))
        for n in 0..<entries {
            _ = memory.learn(RemediationOutcome(
                signature: FaultSignature(faultType: "fault-\(n % 50)", components: ["c\(n)", "svc"], pattern: "p:\(n)"),
                actions: [RemediationAction(playbookID: "clean-001", action: "clean", priority: 1)], succeeded: true, origin: .run), at: now)
        }
        try ImmuneMemoryDocument.save(memory, to: knowledge)
        let size = (try? FileManager.default.attributesOfItem(atPath: ImmuneMemoryDocument.path(in: knowledge))[.size] as? Int) ?? 0
        let incidentsToRank = (0..<incidents).map {
            Incident.simulated(rule: rule, labels: ["host": "h\($0)", "path": "/var"], value: 95, at: now.timeIntervalSince1970)!
        }
        func measure(cached: Bool) -> Double {
            let shared = ImmuneMemoryCache()
            let start = DispatchTime.now().uptimeNanoseconds
            for incident in incidentsToRank {
                let selector = PlaybookSelector(catalog: loaded.catalog, stateDirectory: state,
                                                memoryCache: cached ? shared : ImmuneMemoryCache())
                guard case .chosen = selector.select(incident, now: now).outcome else { fatalError("no playbook chosen") }
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(max(incidents, 1))
        }
        let cached = measure(cached: true), uncached = measure(cached: false)
        report("select-memory", [
            ("entries", entries), ("incidents", incidents), ("document_bytes", size),
            ("cached_ms_per_incident", cached * 1000), ("reread_ms_per_incident", uncached * 1000),
        ], lines: [
            "select-memory: rank and consult the immune memory (\(entries) entries, \(size / 1024) KiB) for \(incidents) incidents",
            String(format: "  memory kept while unchanged (a running watch): %.3f ms per incident", cached * 1000),
            String(format: "  document read for every incident:               %.3f ms per incident (%.0fx)", uncached * 1000,
                   uncached / max(cached, 1e-9)),
        ])
    }
}
