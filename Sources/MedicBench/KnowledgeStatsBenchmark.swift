import Foundation
import MedicKnowledge

/// `kb-stats-1m`: `medic kb stats`'s computation (`KnowledgeBase.incidentStatistics`) over a
/// knowledge base of N (1,000,000) incident records, in a process of its own so that its peak
/// memory is the figure. Targets: under 2 s, under 300 MB. The records are real `IncidentRecord`s
/// as JSONEncoder writes them (48 kinds: 12 playbooks × outcome, mode and detection mixes, two or
/// three steps each), each with its own id and time, written straight to the file (generation
/// is not measured).
enum KnowledgeStatsBenchmark {
    static func run(records: Int, rounds: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let generated = try Measure.seconds { try write(records: records, to: dir.path) }
        let size = (try? FileManager.default.attributesOfItem(atPath: dir.path + "/" + KnowledgeFile.incidentHistory.name)[.size] as? Int) ?? 0
        var times: [Double] = [], floors: [Double] = [], peaks: [Int] = []
        let me = CommandLine.arguments[0]
        for round in 0..<rounds {
            let out = dir.appendingPathComponent("result-\(round).txt").path
            guard let child = Measure.child(me, ["kb-stats-child", "--dir", dir.path, "--out", out, "--expect", "\(records)"]),
                  child.status == 0, let text = try? String(contentsOfFile: out, encoding: .utf8),
                  case let figures = text.split(separator: " ").compactMap({ Double($0) }), figures.count == 2 else {
                fatalError("the kb-stats child failed; the benchmark is invalid")
            }
            times.append(figures[0])
            floors.append(figures[1])
            peaks.append(child.peakRSS)
        }
        let median = times.sorted()[times.count / 2], floor = floors.sorted()[floors.count / 2], peak = peaks.max() ?? 0
        report("kb-stats-1m", [
            ("records", records), ("file_bytes", size), ("rounds", rounds), ("seconds", median), ("records_per_second", Double(records) / median),
            ("peak_rss_bytes", peak), ("floor_seconds", floor),
        ], lines: [
            "kb-stats-1m: statistics and KPIs over \(records) incident records (\(Measure.megabytes(size)) of JSON lines, written in \(String(format: "%.1f", generated)) s); median of \(rounds)",
            String(format: "  %.2f s (target < 2 s), %.0f records/s, peak %@ (target < 300 MB)", median, Double(records) / median, Measure.megabytes(peak)),
            String(format: "  floor (read the file, find its newlines, nothing else; same processes): %.2f s, statistics take %.1fx that",
                   floor, median / floor),
        ])
    }

    /// The measured part, in its own process.
    static func child(directory: String, out: String, expect: Int) throws {
        let base = try KnowledgeBase(directory: directory, create: false)
        var result: OutcomeStatistics?
        let seconds = try Measure.seconds { result = try base.incidentStatistics().statistics }
        guard let result, result.kpis.incidents == expect else {
            fatalError("expected \(expect) incidents, the statistics counted \(result?.kpis.incidents ?? -1)")
        }
        let floor = try Measure.seconds { try readingFloor(base.path(.incidentHistory), expect: expect) }
        try "\(seconds) \(floor)".write(toFile: out, atomically: true, encoding: .utf8)
    }

    /// What no statistics can beat: the file read 1 MiB at a time and its newlines found with
    /// memchr, nothing else (measured right after the statistics, in the same process).
    private static func readingFloor(_ path: String, expect: Int) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { fatalError("cannot open \(path)") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: off_t = 0, lines = 0
        while true {
            let count = pread(fd, buffer.baseAddress, buffer.count, offset)
            guard count > 0 else { break }
            offset += off_t(count)
            var at = buffer.baseAddress!, left = count
            while left > 0, let found = memchr(at, 0x0A, left) {
                lines += 1
                left -= at.distance(to: found) + 1
                at = found + 1
            }
        }
        guard lines == expect else { fatalError("the floor counted \(lines) lines, expected \(expect)") }
    }

    private static func write(records: Int, to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var kinds: [[UInt8]] = []
        let outcomes: [IncidentRecord.RunOutcome] = [.succeeded, .succeeded, .succeeded, .failed, .rolledBack, .refused, .escalated, .succeeded]
        for playbook in 0..<12 {
            for variant in 0..<4 {
                let outcome = outcomes[(playbook + variant) % outcomes.count]
                let watched = variant % 2 == 1
                let steps = (1...(2 + variant % 2)).map {
                    IncidentRecord.StepExecuted(step: $0, name: "step \($0)", succeeded: outcome == .succeeded || $0 == 1, attempts: 1 + $0 % 2)
                }
                let record = IncidentRecord(
                    incidentID: "INCIDENT-PLACEHOLDER", timestamp: "2026-11-23T10:00:00.000Z", endedAt: "2026-11-23T10:01:00.000Z",
                    runID: "RUN-PLACEHOLDER", mode: watched ? .automated : .manual, runOutcome: outcome,
                    detection: .init(method: watched ? .anomalyDetection : .manual, detectionTime: "2026-11-23T10:00:00.000Z",
                                     timeToDetect: watched ? Double(30 + 15 * variant) : nil, initialSeverity: "SEV2",
                                     rule: watched ? "rule-\(playbook)" : nil),
                    classification: .init(affectedComponents: ["svc-\(playbook)"]),
                    remediation: .init(playbookID: "playbook-\(String(format: "%03d", playbook))", playbookVersion: "1.0.0",
                                       executionTime: Double(10 + playbook * 3 + variant), stepsExecuted: outcome == .refused ? [] : steps,
                                       outcome: outcome == .refused ? nil : outcome == .succeeded ? .success : .failed),
                    impact: .init(duration: Double(60 + variant)),
                    resolution: .init(resolutionMethod: outcome == .rolledBack ? .rollback : watched ? .autoRemediation : .manual,
                                      timeToResolution: outcome == .succeeded ? Double(60 + variant) : nil,
                                      verificationPassed: outcome == .succeeded),
                    metadata: .init(escalated: outcome == .escalated))
                kinds.append(Array(try encoder.encode(record)))
            }
        }
        _ = FileManager.default.createFile(atPath: directory + "/" + KnowledgeFile.incidentHistory.name, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: directory + "/" + KnowledgeFile.incidentHistory.name) else {
            fatalError("cannot write the benchmark's knowledge base")
        }
        defer { try? handle.close() }
        let placeholder = Array("PLACEHOLDER".utf8)
        // Where each kind's placeholders are, found once.
        let spots: [[Int]] = kinds.map { kind in
            (0...(kind.count - placeholder.count)).filter { at in (0..<placeholder.count).allSatisfy { kind[at + $0] == placeholder[$0] } }
        }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(8 << 20)
        for i in 0..<records {
            var line = kinds[i % kinds.count]
            let id = Array(String(format: "%011d", i).utf8)  // as long as PLACEHOLDER: the line keeps its shape
            for at in spots[i % kinds.count] { line.replaceSubrange(at..<(at + id.count), with: id) }
            chunk += line
            chunk.append(0x0A)
            if chunk.count > 8 << 20 {
                handle.write(Data(chunk))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(chunk))
    }
}
