import AsyncHTTPClient
import Foundation
import MedicModel
import NIOCore
import NIOHTTP1

/// One request and its whole response over an engine's `EngineHTTPClient`, within `timeout` seconds from
/// the start: connecting, sending and reading the body all count. Never throws: a failure is an
/// outcome that says what went wrong.
enum HTTPExchange {
    enum Outcome: Sendable {
        case answered(status: Int, body: ResponseTail)
        case failed(summary: String, timedOut: Bool)
    }

    static func perform(_ request: HTTPClientRequest, through client: EngineHTTPClient, timeout: Double,
                        keepingLast limit: Int) async -> Outcome {
        let seconds = min(max(timeout, 0), 1e9)
        let end = ContinuousClock.now + .seconds(seconds)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .now() + .nanoseconds(Int64(seconds * 1e9)))
        } catch {
            return failure(error, timeout: timeout, url: request.url)
        }
        // The client's deadline stops at the response head: the body gets what time is left.
        let status = Int(response.status.code)
        let body = response.body
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                var tail = ResponseTail(limit: limit)
                do {
                    for try await chunk in body { tail.append(chunk.readableBytesView) }
                    try Task.checkCancellation()
                    return .answered(status: status, body: tail)
                } catch {
                    return failure(error, timeout: timeout, url: request.url)
                }
            }
            group.addTask {
                do { try await Task.sleep(until: end, clock: .continuous) } catch { return nil }
                return .failed(summary: timedOutSummary(timeout), timedOut: true)
            }
            // The first that finishes wins; a cancelled timer reports nothing.
            for await outcome in group {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return .failed(summary: "cancelled", timedOut: false)
        }
    }

    /// A timeout says only that; any other error names the server and the cause:
    /// `request to 127.0.0.1:8080 failed: Connection refused`.
    static func failure(_ error: any Error, timeout: Double, url: String) -> Outcome {
        let cause: String
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                return .failed(summary: timedOutSummary(timeout), timedOut: true)
            default:
                cause = "\(error)"
            }
        case is CancellationError:
            return .failed(summary: "cancelled", timedOut: false)
        case let error as IOError:
            cause = String(cString: strerror(error.errnoCode))
        default:
            cause = "\(error)"
        }
        let components = URLComponents(string: url)
        let server = (components?.host ?? url) + (components?.port.map { ":\($0)" } ?? "")
        return .failed(summary: "request to \(server) failed: \(cause)", timedOut: false)
    }

    private static func timedOutSummary(_ timeout: Double) -> String {
        "timed out after \(Interval.trim(timeout))s"
    }
}

/// The last `limit` bytes of a response body, and whether anything before them was dropped.
struct ResponseTail: Sendable {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var truncated = false

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit {
            bytes.removeFirst(bytes.count - limit)
            truncated = true
        }
    }

    /// The bytes as UTF-8; a character cut in two by the truncation is left out, not garbled.
    var text: String {
        let start = truncated ? bytes.firstIndex { $0 & 0xC0 != 0x80 } ?? bytes.endIndex : 0
        return String(decoding: bytes[start...], as: UTF8.self)
    }
}
