import Foundation
import MedicModel

/// A JSON object file, read again on every query, so another program (or a person) can change
/// the values while Medic runs:
///
/// ```json
/// {"queue_depth": 12, "disk_usage_percent{path=\"/var\"}": 91.5, "state": "degraded", "maintenance": false}
/// ```
///
/// A key is a bare metric name or a selector exactly as `MetricSelector.description` renders it;
/// the full selector is looked up first, then the bare name. Values are numbers, text, or
/// booleans (true reads as 1, false as 0); null or a missing key means no such series.
public struct FileMetricSource: MetricSource {
    public var path: String

    public init(path: String) { self.path = path }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MetricError("cannot read the metrics file \(path): \(error.localizedDescription)")
        }
        let values: [String: FileValue]
        do {
            values = try JSONDecoder().decode([String: FileValue].self, from: data)
        } catch {
            throw MetricError("the metrics file \(path) is not a JSON object of values")
        }
        for key in [selector.description, selector.name] {
            switch values[key] {
            case nil, .null?: continue
            case .value(let value)?: return value
            case .unsupported?: throw MetricError("'\(key)' in the metrics file \(path) is not a number, text or boolean")
            }
        }
        return nil
    }

    /// One value of the file; lists and objects are kept as unsupported so that one odd key does
    /// not make the whole file unreadable.
    enum FileValue: Decodable {
        case value(MetricValue)
        case null
        case unsupported

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .value(.number(flag ? 1 : 0))
            } else if let number = try? container.decode(Double.self) {
                self = .value(.number(number))
            } else if let text = try? container.decode(String.self) {
                self = .value(.text(text))
            } else {
                self = .unsupported
            }
        }
    }
}
