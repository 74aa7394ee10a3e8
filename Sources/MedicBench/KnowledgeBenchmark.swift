import Foundation
import MedicKnowledge

#if canImport(Glibc)
import Glibc
#endif

/// `kb-append`: records per second appended to the knowledge base, fsync per record and
/// batched (B records per write + fsync), each against a floor measured in the same run on the
/// same disk: a plain loop of `write` + `fsync` of the same bytes on one open descriptor. The
/// gap is what the store adds: open, `flock`, `fstat`, the JSON check of every record, close.
enum KnowledgeBenchmark {
    /// A record shaped like an incident (about 300 bytes).
    static func record(_ index: Int) -> [UInt8] {
        Array(("{\"classification\":{\"affected_components\":[\"api-\(index % 7)\",\"db\"],\"blast_radius\":\"service\",\"category\":\"infrastructure\",\"root_cause\":\"disk_full\"},"
            + "\"detection\":{\"method\":\"anomaly_detection\",\"time_to_detect\":42},\"incident_id\":\"inc-\(index)\","
            + "\"remediation\":{\"execution_time\":12.5,\"outcome\":\"success\",\"playbook_id\":\"clean-001\",\"playbook_version\":\"1.0.0\"},"
            + "\"timestamp\":\"2026-01-01T00:00:00Z\"}").utf8)
    }

    static func run(records: Int, batch: Int, rounds: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = (0..<records).map(record)
        let batches = stride(from: 0, to: lines.count, by: batch).map { Array(lines[$0..<min($0 + batch, lines.count)]) }
        var best = (single: Double.infinity, singleFloor: Double.infinity, batched: Double.infinity, batchedFloor: Double.infinity)
        for round in 0..<rounds {
            let kb = try KnowledgeBase(directory: dir.appendingPathComponent("kb-\(round)").path)
            best.singleFloor = min(best.singleFloor, try floor(lines.map { [$0] }, path: dir.appendingPathComponent("floor-\(round)").path))
            best.single = min(best.single, try Measure.seconds { for line in lines { try kb.append(line, to: .incidentHistory) } })
            best.batchedFloor = min(best.batchedFloor, try floor(batches, path: dir.appendingPathComponent("floor-batched-\(round)").path))
            best.batched = min(best.batched, try Measure.seconds { for group in batches { try kb.appendBatch(group, to: .playbookPerformance) } })
            let (single, singleProblems) = try kb.read(.incidentHistory)
            let (batched, batchedProblems) = try kb.read(.playbookPerformance)
            guard single.count == records, batched.count == records, singleProblems.isEmpty, batchedProblems.isEmpty else {
                fatalError("kb-append: read back \(single.count) and \(batched.count) records of \(records), problems: \(singleProblems + batchedProblems)")
            }
        }
        let rate = { (seconds: Double) in Double(records) / seconds }
        report("kb-append", [
            ("records", records), ("batch", batch), ("rounds", rounds), ("record_bytes", lines[0].count + 1),
            ("fsync_per_record_per_s", rate(best.single)), ("fsync_per_record_floor_per_s", rate(best.singleFloor)),
            ("fsync_per_record_ratio", best.single / best.singleFloor),
            ("batched_per_s", rate(best.batched)), ("batched_floor_per_s", rate(best.batchedFloor)),
            ("batched_ratio", best.batched / best.batchedFloor),
        ], lines: [
            "kb-append: \(records) records of \(lines[0].count + 1) bytes, best of \(rounds) rounds",
            String(format: "  fsync per record: %.0f records/s (floor write+fsync %.0f/s) ratio %.2fx",
                   rate(best.single), rate(best.singleFloor), best.single / best.singleFloor),
            String(format: "  batched (%d per write+fsync): %.0f records/s (floor %.0f/s) ratio %.2fx",
                   batch, rate(best.batched), rate(best.batchedFloor), best.batched / best.batchedFloor),
        ])
    }

    /// The floor: each group's lines in one `write`, then `fsync`, on one open descriptor.
    static func floor(_ groups: [[[UInt8]]], path: String) throws -> Double {
        let buffers = groups.map { group in group.reduce(into: [UInt8]()) { $0 += $1; $0.append(UInt8(ascii: "\n")) } }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw KnowledgeError("cannot open \(path)") }
        defer { close(fd) }
        return try Measure.seconds {
            for bytes in buffers {
                let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard count == bytes.count, fsync(fd) == 0 else { throw KnowledgeError("cannot write \(path)") }
            }
        }
    }

    /// `kb-append-child`: appends `count` records tagged `tag` to incident-history.jsonl, each
    /// with fsync, for the tests' concurrent appenders; every third record is padded past a pipe
    /// buffer (4 KiB) so an interleaved write would show.
    static func child(directory: String, count: Int, tag: String) throws {
        let kb = try KnowledgeBase(directory: directory)
        for index in 0..<count {
            let pad = String(repeating: "x", count: index % 3 == 0 ? 5000 : 20)
            try kb.append(Array("{\"i\":\(index),\"pad\":\"\(pad)\",\"tag\":\"\(tag)\"}".utf8), to: .incidentHistory)
        }
    }
}
