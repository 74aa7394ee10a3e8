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
    static func run(entries: Int, incidents: Int) throws {
        // The watch benchmark's library: one playbook, one rule (its `path` label is the parameter).
        let loaded = CatalogLoader().load(documents: WatchBenchmark.library.map { ($0.0, Array($0.1.utf8)) })
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
