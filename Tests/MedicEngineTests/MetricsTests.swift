import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import XCTest

/// A fresh folder under the temporary directory, removed when the test ends.
private func scratchFolder(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-metrics-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

private func selector(_ name: String, _ labels: [(String, String)] = []) -> MetricSelector {
    MetricSelector(name: name, matchers: labels.map { .init(label: $0.0, op: .equal, value: $0.1) })
}

private func number(_ value: MetricValue?, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
    guard case .number(let n)? = value else {
        XCTFail("expected a number, got \(String(describing: value))", file: file, line: line)
        throw MetricError("not a number")
    }
    return n
}

/// The error a throwing call ends with, or a failure when it does not throw.
private func metricError(_ body: () async throws -> Any?, file: StaticString = #filePath, line: UInt = #line) async -> MetricError? {
    do {
        let value = try await body()
        XCTFail("expected a MetricError, got \(String(describing: value))", file: file, line: line)
    } catch let error as MetricError {
        return error
    } catch {
        XCTFail("expected a MetricError, got \(error)", file: file, line: line)
    }
    return nil
}

final class MetricsTests: XCTestCase {
    // MARK: Host metrics

    func testDiskUsageOfTheRootFileSystemIsAPercentage() async throws {
        let host = HostMetrics()
        for s in [selector("disk_usage_percent"), selector("disk_usage_percent", [("path", "/")])] {
            let usage = try number(try await host.value(of: s))
            XCTAssertTrue((0...100).contains(usage), "\(s) = \(usage)")
        }
        let free = try number(try await host.value(of: selector("disk_free_bytes")))
        XCTAssertGreaterThanOrEqual(free, 0)
    }

    func testPathSizeIsTheSumOfRegularFilesWithoutFollowingLinks() async throws {
        let dir = try scratchFolder(self)
        let outside = try scratchFolder(self)
        let nested = dir.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try Data(count: 10).write(to: dir.appendingPathComponent("ten"))
        try Data(count: 2000).write(to: dir.appendingPathComponent("a/two-thousand"))
        try Data().write(to: dir.appendingPathComponent("a/empty"))
        try Data(count: 12345).write(to: nested.appendingPathComponent("deep"))
        // Links are not followed: neither the big file nor the folder outside count.
        try Data(count: 1_000_000).write(to: outside.appendingPathComponent("big"))
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("link-to-file"),
                                                   withDestinationURL: outside.appendingPathComponent("big"))
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("link-to-folder"), withDestinationURL: outside)

        let size = try number(try await HostMetrics().value(of: selector("path_size_bytes", [("path", dir.path)])))
        XCTAssertEqual(size, 10 + 2000 + 12345)
        let one = try number(try await HostMetrics().value(of: selector("path_size_bytes", [("path", nested.appendingPathComponent("deep").path)])))
        XCTAssertEqual(one, 12345, "a file's size is its own")
        let viaLink = try number(try await HostMetrics().value(of: selector("path_size_bytes", [("path", dir.appendingPathComponent("link-to-folder").path)])))
        XCTAssertEqual(viaLink, 1_000_000, "the path itself may be a link")
    }

    func testPathSizeGivesUpBeyondItsEntryLimit() async throws {
        let dir = try scratchFolder(self)
        for name in ["a", "b", "c"] { try Data(count: 1).write(to: dir.appendingPathComponent(name)) }
        let error = await metricError { try await HostMetrics(maxEntries: 2).value(of: selector("path_size_bytes", [("path", dir.path)])) }
        XCTAssertTrue(error?.description.contains("more than 2 entries") ?? false, "\(String(describing: error))")
        let size = try number(try await HostMetrics(maxEntries: 3).value(of: selector("path_size_bytes", [("path", dir.path)])))
        XCTAssertEqual(size, 3)
    }

    func testANonexistentPathIsAnError() async throws {
        let missing = "/nonexistent-\(UUID().uuidString)/x"
        for name in ["disk_usage_percent", "disk_free_bytes", "path_size_bytes"] {
            let error = await metricError { try await HostMetrics().value(of: selector(name, [("path", missing)])) }
            XCTAssertEqual(error?.description, "path '\(missing)' does not exist", name)
            XCTAssertEqual(error?.isMissing, false, "a bad path is a fault, not a missing series")
        }
    }

    func testMemoryCPUAndLoad() async throws {
        let host = HostMetrics()
        let available = try number(try await host.value(of: selector("memory_available")))
        let used = try number(try await host.value(of: selector("memory_usage_percent")))
        let cpu = try number(try await host.value(of: selector("cpu_usage")))
        let load = try number(try await host.value(of: selector("load1")))
        XCTAssertGreaterThan(available, 0)
        XCTAssertTrue((0...100).contains(used), "\(used)")
        XCTAssertTrue((0...100).contains(cpu), "\(cpu)")
        XCTAssertGreaterThanOrEqual(load, 0)
    }

    func testHostMetricsAnswerNilForOtherNamesAndRefuseLabelsTheyCannotHonour() async throws {
        let unknown = try await HostMetrics().value(of: selector("http_error_rate"))
        XCTAssertNil(unknown)
        let error = await metricError { try await HostMetrics().value(of: selector("memory_available", [("host", "web1")])) }
        XCTAssertEqual(error?.description, "host metric memory_available takes no labels, found host")
        let regex = MetricSelector(name: "disk_usage_percent", matchers: [.init(label: "path", op: .matches, value: "/var.*")])
        let regexError = await metricError { try await HostMetrics().value(of: regex) }
        XCTAssertTrue(regexError?.description.contains("takes only path=") ?? false)
        let noPath = await metricError { try await HostMetrics().value(of: selector("path_size_bytes")) }
        XCTAssertTrue(noPath?.description.contains("needs a path") ?? false)
    }

    // MARK: Command source

    func testCommandPrintsANumberAndSeesTheSelectorAsEnvironment() async throws {
        let value = try await CommandMetricSource(command: "echo 42").value(of: selector("queue_depth"))
        XCTAssertEqual(value, .number(42))
        let unit = try await CommandMetricSource(command: "echo 12%").value(of: selector("x"))
        XCTAssertEqual(unit, .number(12))
        let echo = CommandMetricSource(command: #"printf '%s|%s|%s' "$metric" "$label_queue" "$selector""#)
        let text = try await echo.value(of: selector("queue_depth", [("queue", "jobs")]))
        XCTAssertEqual(text, .text(#"queue_depth|jobs|queue_depth{queue="jobs"}"#))
        let nothing = try await CommandMetricSource(command: "true").value(of: selector("x"))
        XCTAssertNil(nothing, "empty output is no such series")
    }

    func testALabelValueNeverRunsAsCode() async throws {
        let marker = "/tmp/pwned-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: marker) }
        let source = CommandMetricSource(command: #"printf '%s' "$label_path""#)
        for value in ["x; touch \(marker)", "$(touch \(marker))", "`touch \(marker)`", "a\ntouch \(marker)", "'; touch \(marker); '"] {
            let answer = try await source.value(of: selector("disk_usage_percent", [("path", value)]))
            XCTAssertEqual(answer, .text(value.trimmingCharacters(in: .whitespacesAndNewlines)), "the value arrives as it was given")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "'\(value)' ran as code")
        }
    }

    func testAFailingCommandReportsTheLastLineOfStderr() async throws {
        let error = await metricError {
            try await CommandMetricSource(command: "echo first >&2; echo 'redis: connection refused' >&2; exit 3").value(of: selector("q"))
        }
        XCTAssertEqual(error?.description, "the command failed (exit 3): redis: connection refused")
        let slow = await metricError { try await CommandMetricSource(command: "sleep 30", timeout: 0.5).value(of: selector("q")) }
        XCTAssertTrue(slow?.description.hasPrefix("the command timed out after 0.5s") ?? false, "\(String(describing: slow))")
    }

    // MARK: File source

    func testFileSourceLooksUpTheFullSelectorThenTheNameOnEveryQuery() async throws {
        let file = try scratchFolder(self).appendingPathComponent("metrics.json")
        try #"{"disk_usage_percent": 50, "disk_usage_percent{path=\"/var\"}": 91.5, "state": "degraded", "maintenance": false, "vip": true, "gone": null, "odd": [1]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let source = FileMetricSource(path: file.path)
        var answers: [MetricValue?] = []
        for s in [selector("disk_usage_percent", [("path", "/var")]), selector("disk_usage_percent", [("path", "/")]),
                  selector("state"), selector("maintenance"), selector("vip"), selector("gone"), selector("absent")] {
            answers.append(try await source.value(of: s))
        }
        XCTAssertEqual(answers, [.number(91.5), .number(50), .text("degraded"), .number(0), .number(1), nil, nil])
        let odd = await metricError { try await source.value(of: selector("odd")) }
        XCTAssertTrue(odd?.description.contains("not a number, text or boolean") ?? false)

        try #"{"state": "healthy"}"#.write(to: file, atomically: true, encoding: .utf8)
        let again = try await source.value(of: selector("state"))
        XCTAssertEqual(again, .text("healthy"), "the file is read on every query")
    }

    func testFileSourceErrors() async throws {
        let dir = try scratchFolder(self)
        let missing = await metricError { try await FileMetricSource(path: dir.appendingPathComponent("none.json").path).value(of: selector("x")) }
        XCTAssertTrue(missing?.description.contains("cannot read the metrics file") ?? false)
        let list = dir.appendingPathComponent("list.json")
        try "[1, 2]".write(to: list, atomically: true, encoding: .utf8)
        let notObject = await metricError { try await FileMetricSource(path: list.path).value(of: selector("x")) }
        XCTAssertTrue(notObject?.description.contains("is not a JSON object") ?? false)
    }

    // MARK: Prometheus source

    /// A loopback Prometheus answering by the decoded `query` parameter.
    private func prometheus() throws -> LoopbackHTTPServer {
        let server = try LoopbackHTTPServer { request in
            let query = URLComponents(string: request.uri)?.queryItems?.first { $0.name == "query" }?.value ?? ""
            func vector(_ series: [String]) -> String {
                #"{"status":"success","data":{"resultType":"vector","result":[\#(series.joined(separator: ","))]}}"#
            }
            let one = #"{"metric":{"__name__":"up","job":"api"},"value":[1700000000.123,"12.5"]}"#
            switch query {
            case "http_error_rate", #"http_error_rate{job="api"}"#: return .init(body: vector([one]))
            case "absent_metric": return .init(body: vector([]))
            case "two_series": return .init(body: vector([one, one.replacingOccurrences(of: "api", with: "web")]))
            case "scalar_metric": return .init(body: #"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}"#)
            case "bad_query":
                return .init(status: 400, body: #"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end"}"#)
            case "server_down": return .init(status: 503, headers: [("Content-Type", "text/plain")], body: "unavailable")
            default:
                // Echo the query it received, as a string result, so tests can see it exactly.
                let data = try? JSONSerialization.data(withJSONObject: ["status": "success",
                                                                         "data": ["resultType": "string", "result": [0, query]]])
                return .init(body: String(decoding: data ?? Data(), as: UTF8.self))
            }
        }
        addTeardownBlock { server.shutdown() }
        return server
    }

    func testPrometheusVectorScalarAndEmptyResults() async throws {
        let server = try prometheus()
        let source = PrometheusMetricSource(baseURL: server.baseURL + "/")
        let vector = try await source.value(of: selector("http_error_rate"))
        XCTAssertEqual(vector, .number(12.5))
        let labelled = try await source.value(of: selector("http_error_rate", [("job", "api")]))
        XCTAssertEqual(labelled, .number(12.5))
        let scalar = try await source.value(of: selector("scalar_metric"))
        XCTAssertEqual(scalar, .number(3))
        let empty = try await source.value(of: selector("absent_metric"))
        XCTAssertNil(empty, "an empty vector is no such series")
        let request = try XCTUnwrap(server.requests.first { $0.uri.contains("job") })
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.uri, "/api/v1/query?query=http_error_rate%7Bjob%3D%22api%22%7D")
    }

    func testPrometheusErrorsSayWhatWentWrong() async throws {
        let server = try prometheus()
        let source = PrometheusMetricSource(baseURL: server.baseURL)
        let two = await metricError { try await source.value(of: selector("two_series")) }
        XCTAssertEqual(two?.description, "two_series matches 2 series; add label matchers to pick one")
        let bad = await metricError { try await source.value(of: selector("bad_query")) }
        XCTAssertEqual(bad?.description, "Prometheus refused bad_query: bad_data: 1:5: parse error: unexpected end")
        let down = await metricError { try await source.value(of: selector("server_down")) }
        XCTAssertEqual(down?.description, "Prometheus answered HTTP 503 without a query result for server_down")
        let dotted = await metricError { try await source.value(of: selector("service.health")) }
        XCTAssertTrue(dotted?.description.contains("not a Prometheus metric name") ?? false)
    }

    func testPrometheusLabelValuesCannotChangeTheQuery() async throws {
        let server = try prometheus()
        let hostile = #"x"} or vector(1) or up{a="\"#
        let echoed = try await PrometheusMetricSource(baseURL: server.baseURL).value(of: selector("disk", [("path", hostile)]))
        XCTAssertEqual(echoed, .text(#"disk{path="x\"} or vector(1) or up{a=\"\\"}"#))
    }

    func testPrometheusThatCannotBeReachedIsAnError() async throws {
        let closed = try LoopbackHTTPServer()
        let base = closed.baseURL
        closed.shutdown()
        let error = await metricError { try await PrometheusMetricSource(baseURL: base, timeout: 1).value(of: selector("up")) }
        XCTAssertTrue(error?.description.hasPrefix("cannot query Prometheus at \(base)") ?? false, "\(String(describing: error))")
    }

    // MARK: Registry

    func testRegistryRoutesByGlobInOrderAndFallsBackToHostMetrics() async throws {
        let pg = InMemoryMetricSource(["pg_connections": [.number(1)]])
        let rates = InMemoryMetricSource(["http_error_rate": [.number(2)], "pg_connections": [.number(99)]])
        let host = InMemoryMetricSource(["load1": [.number(0.5)], "pg_missing": [.number(7)]])
        let registry = MetricRegistry(sources: [(["pg_*"], pg), (["*_rate", "pg_connections"], rates)], host: host)

        let first = try await registry.value(of: selector("pg_connections"))
        XCTAssertEqual(first, .number(1), "the first source in order serves it")
        let second = try await registry.value(of: selector("http_error_rate"))
        XCTAssertEqual(second, .number(2))
        let builtIn = try await registry.value(of: selector("load1"))
        XCTAssertEqual(builtIn, .number(0.5), "names no source claims go to the host metrics")
        XCTAssertEqual(registry.sourceName(for: "http_error_rate"), "#2")
        XCTAssertNil(registry.sourceName(for: "load1"))

        let claimed = await metricError { try await registry.value(of: selector("pg_missing")) }
        XCTAssertEqual(claimed?.description, "metric source '#1' has no series pg_missing")
        XCTAssertEqual(claimed?.isMissing, true, "the claiming source's answer is final: no fall back to the host")
        let nobody = await metricError { try await registry.value(of: selector("queue_depth")) }
        XCTAssertEqual(nobody?.isMissing, true)
        XCTAssertEqual(nobody?.description, "no metric source serves 'queue_depth'; built-in: disk_usage_percent, disk_free_bytes, "
                       + "path_size_bytes, memory_available, memory_usage_percent, cpu_usage, load1; configure one in a metric sources file (docs/format.md, \"Metric sources\")")
        let named = MetricRegistry(config: nil, host: HostMetrics(), sourcesFile: "/etc/medic/metrics.yaml")
        let missing = await metricError { try await named.value(of: selector("queue_depth")) }
        XCTAssertTrue(missing?.description.hasSuffix("configure one in the metric sources file /etc/medic/metrics.yaml "
                                                     + "(docs/format.md, \"Metric sources\")") == true, missing?.description ?? "")
    }

    func testRegistryNamesTheSourceThatFailed() async throws {
        let registry = MetricRegistry(sources: [(["*"], InMemoryMetricSource(["q": [.failure("redis down")]]))])
        let error = await metricError { try await registry.value(of: selector("q")) }
        XCTAssertEqual(error?.description, "metric source '#1', q: redis down")
        XCTAssertEqual(error?.isMissing, false)
    }

    func testRegistryFromAConfigFileScalesAndResolvesPaths() async throws {
        let dir = try scratchFolder(self)
        try #"{"error_ratio": 0.0125, "state": "ok"}"#.write(to: dir.appendingPathComponent("metrics.json"), atomically: true, encoding: .utf8)
        try """
            metric_sources:
              - name: demo
                type: file
                path: metrics.json
                metrics: [error_ratio, state]
                scale: 100
              - name: queue
                type: command
                command: cat depth.txt
                metrics: [queue_depth]
            """.write(to: dir.appendingPathComponent("sources.yaml"), atomically: true, encoding: .utf8)
        try "17\n".write(to: dir.appendingPathComponent("depth.txt"), atomically: true, encoding: .utf8)
        let (config, diagnostics) = MetricSourcesLoader.load(path: dir.appendingPathComponent("sources.yaml").path)
        XCTAssertEqual(diagnostics, [])
        let registry = MetricRegistry(config: config)
        let ratio = try await registry.value(of: selector("error_ratio"))
        XCTAssertEqual(ratio, .number(1.25), "scale multiplies numbers")
        let state = try await registry.value(of: selector("state"))
        XCTAssertEqual(state, .text("ok"), "and leaves text alone")
        let depth = try await registry.value(of: selector("queue_depth"))
        XCTAssertEqual(depth, .number(17), "a command runs in the configuration's folder")
        let load = try await registry.value(of: selector("load1"))
        XCTAssertNotNil(load)
    }
}

final class MetricSourcesLoaderTests: XCTestCase {
    private func write(_ text: String, name: String = "sources.yaml") throws -> URL {
        let url = try scratchFolder(self).appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testAValidFileDecodesEveryKind() throws {
        let url = try write("""
            metric_sources:
              - name: prom
                type: prometheus
                url: http://127.0.0.1:9090
                metrics: [http_error_rate, "pg_*"]
                scale: 100
              - name: queue
                type: command
                command: redis-cli llen jobs
                metrics: [queue_depth]
                timeout: 5s
              - name: demo
                type: file
                path: metrics.json
            """)
        let (config, diagnostics) = MetricSourcesLoader.load(path: url.path)
        XCTAssertEqual(diagnostics, [], DiagnosticRenderer.text(diagnostics))
        let bindings = try XCTUnwrap(config?.bindings)
        XCTAssertEqual(bindings.map(\.name), ["prom", "queue", "demo"])
        XCTAssertEqual(bindings.map(\.kind), [.prometheus, .command, .file])
        XCTAssertEqual(bindings[0].url, "http://127.0.0.1:9090")
        XCTAssertEqual(bindings[0].metrics, ["http_error_rate", "pg_*"])
        XCTAssertEqual(bindings[0].scale, 100)
        XCTAssertEqual(bindings[1].command, "redis-cli llen jobs")
        XCTAssertEqual(bindings[1].timeout, Interval(seconds: 5))
        XCTAssertEqual(bindings[1].workingDirectory, url.deletingLastPathComponent().path)
        XCTAssertEqual(bindings[2].path, url.deletingLastPathComponent().appendingPathComponent("metrics.json").path)
        XCTAssertEqual(bindings[2].metrics, ["*"], "a source serves every metric unless told otherwise")
        XCTAssertEqual(bindings[1].location.line, 7)
        XCTAssertEqual(config?.binding(for: "pg_locks")?.name, "prom")
        XCTAssertEqual(config?.binding(for: "queue_depth")?.name, "queue")
        XCTAssertEqual(config?.binding(for: "anything")?.name, "demo")
    }

    func testJSONSpellingLoadsTheSame() throws {
        let url = try write(#"{"metric_sources": [{"name": "prom", "type": "prometheus", "url": "https://prom.example:9090/", "metrics": ["up"]}]}"#,
                            name: "sources.json")
        let (config, diagnostics) = MetricSourcesLoader.load(path: url.path)
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(config?.bindings.first?.url, "https://prom.example:9090/")
    }

    func testEveryFaultIsLocated() throws {
        let url = try write("""
            metric_sources:
              - name: graphite
                type: graphite
              - name: prom
                type: prometheus
              - name: ftp
                type: prometheus
                url: ftp://127.0.0.1:9090
              - name: queue
                type: command
                url: http://127.0.0.1:9090
              - name: demo
                type: file
                metrix: [a]
              - name: slow
                type: command
                command: echo 1
                timeout: soon
                metrics: "pg_*"
              - name: slow
                type: file
                path: m.json
                metrics: [pg-*]
            """)
        let (config, diagnostics) = MetricSourcesLoader.load(path: url.path)
        XCTAssertNil(config, "a configuration with errors is never used")
        let found = diagnostics.map { "\($0.code.rawValue) \($0.location.line ?? 0):\($0.location.column ?? 0)" }
        XCTAssertEqual(Set(found), [
            "M106 3:11",  // unknown type
            "M102 4:5",   // prometheus without url (at its mapping)
            "M106 8:10",  // ftp scheme
            "M101 11:5",  // url on a command source
            "M102 9:5",   // command source without command
            "M101 14:5",  // unknown key, with a did-you-mean
            "M102 12:5",  // file source without path
            "M201 18:14", // bad duration
            "M103 19:14", // metrics is not a list
            "M106 23:15", // bad pattern
        ], DiagnosticRenderer.text(diagnostics))
        XCTAssertEqual(found.count, 10, "one diagnostic per fault")
        XCTAssertTrue(diagnostics.allSatisfy { $0.location.file == url.path })
        XCTAssertEqual(diagnostics.first { $0.code == .unknownKey && $0.location.line == 14 }?.hint, "did you mean 'metrics'?")
        XCTAssertEqual(diagnostics.first { $0.code == .invalidValue && $0.location.line == 3 }?.message,
                       "'type' 'graphite' is not one of prometheus, command, file")
    }

    func testDuplicateNamesAreReported() throws {
        let url = try write("""
            metric_sources:
              - name: a
                type: file
                path: one.json
              - name: a
                type: file
                path: two.json
            """)
        let (config, diagnostics) = MetricSourcesLoader.load(path: url.path)
        XCTAssertNil(config)
        XCTAssertEqual(diagnostics.map(\.code), [.duplicateName])
        XCTAssertEqual(diagnostics.first?.location.line, 5)
        XCTAssertTrue(diagnostics.first?.message.contains("already defined at \(url.path):2:11") ?? false,
                      diagnostics.first?.message ?? "")
    }

    func testMissingAndEmptyFiles() throws {
        let missing = MetricSourcesLoader.load(path: "/nonexistent-\(UUID().uuidString).yaml")
        XCTAssertNil(missing.0)
        XCTAssertEqual(missing.1.map(\.code), [.fileUnreadable])
        let empty = try write("# nothing yet\n")
        XCTAssertEqual(MetricSourcesLoader.load(path: empty.path).1.map(\.code), [.emptyFile])
        let wrongTop = try write("sources: []\n")
        XCTAssertEqual(Set(MetricSourcesLoader.load(path: wrongTop.path).1.map(\.code)), [.unknownKey, .missingKey])
    }
}
