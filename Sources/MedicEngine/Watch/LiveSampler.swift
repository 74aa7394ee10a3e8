import AsyncHTTPClient
import Foundation
import MedicDetect
import MedicModel
import NIOCore

/// Where `medic watch` gets samples when no feed is given: every series the rules name, read
/// through the metric sources (built-in host metrics, a command, Prometheus' HTTP API, a file),
/// and Prometheus text exposition scraped from URLs.
public struct LiveSampler: Sendable {
    /// The series to read: each rule's metric with its `=` labels, and each metric a playbook
    /// trigger's condition names. A rule whose labels match by `!=`, `=~` or `!~` is read by its
    /// `=` labels alone: a source answers one series per query; scrape a whole exposition to
    /// feed every series.
    public let selectors: [MetricSelector]
    public let registry: MetricRegistry
    public let scrapeURLs: [String]
    public var timeout: Double = 10
    /// The engine's client (`EngineEnvironment.http`), for the scrapes.
    public let client: EngineHTTPClient

    public init(catalog: Catalog, registry: MetricRegistry, scrapeURLs: [String], client: EngineHTTPClient = EngineHTTPClient()) {
        self.client = client
        var selectors: [MetricSelector] = []
        for rule in catalog.rules {
            let selector = MetricSelector(name: rule.metric.name, matchers: rule.metric.matchers.filter { $0.op == .equal })
            if !selectors.contains(selector) { selectors.append(selector) }
        }
        for playbook in catalog.playbooks {
            for reference in playbook.trigger?.condition.expression.references ?? [] where !selectors.contains(reference) {
                selectors.append(reference)
            }
        }
        self.selectors = selectors
        self.registry = registry
        self.scrapeURLs = scrapeURLs
    }

    /// One round: a sample per series that could be read, at `time`, and a message for each
    /// that could not (a round never fails as a whole).
    public func round(at time: Double) async -> (samples: [Sample], problems: [String]) {
        var samples: [Sample] = []
        var problems: [String] = []
        for selector in selectors {
            do {
                switch try await registry.value(of: selector) {
                case .number(let value):
                    samples.append(Sample(metric: selector.name, labels: selector.equalityLabels, time: time, value: value))
                case .text(let text):
                    problems.append("\(selector) is text (\"\(text)\"), not a number")
                }
            } catch {
                // A series nothing serves is expected while scraping: the exposition has it.
                if scrapeURLs.isEmpty || (error as? MetricError)?.isMissing != true { problems.append("\(error)") }
            }
        }
        for url in scrapeURLs {
            do {
                samples += try await scrape(url, at: time)
            } catch {
                problems.append("scrape \(url): \(error)")
            }
        }
        return (samples, problems)
    }

    /// The samples of one Prometheus text exposition (`/metrics`); lines that do not parse are skipped.
    func scrape(_ url: String, at time: Double) async throws -> [Sample] {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "text/plain; version=0.0.4")
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        guard response.status.code == 200 else { throw MetricError("HTTP \(response.status.code)") }
        let body = try await response.body.collect(upTo: 32 << 20)
        var parser = PrometheusTextParser(defaultTime: time)
        return parser.parseAll(Array(body.readableBytesView)).samples
    }
}
