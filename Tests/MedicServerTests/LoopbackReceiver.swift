import Foundation
import MedicServeTestKit
import Hummingbird
import NIOCore
import XCTest

/// An HTTP receiver on 127.0.0.1 (a port the system chose) that keeps every POST it gets, for
/// the notification channels to be checked against: the path, the headers that matter, the body.
final class LoopbackReceiver: @unchecked Sendable {
    struct Delivery {
        var path: String
        var idempotencyKey: String?
        var contentType: String?
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    private let lock = NSLock()
    private var received: [Delivery] = []
    private(set) var port = 0
    private var task: Task<Void, Never>?
    private var held = false
    private var failures = 0
    /// The number of requests still to be answered 500 (each recorded), before the 2xx ones.
    var failing: Int {
        get { lock.withLock { failures } }
        set { lock.withLock { failures = newValue } }
    }
    /// While true, every request is recorded and left unanswered.
    var holding: Bool {
        get { lock.withLock { held } }
        set { lock.withLock { held = newValue } }
    }

    var deliveries: [Delivery] { lock.withLock { received } }
    var url: String { "http://127.0.0.1:\(port)" }

    init(_ test: XCTestCase) async throws {
        let router = Router()
        router.post("/**") { [self] request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            let delivery = Delivery(path: request.uri.path, idempotencyKey: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value,
                                    contentType: request.headers[.contentType], body: Data(body.readableBytesView))
            let fails: Bool = lock.withLock {
                received.append(delivery)
                guard failures > 0 else { return false }
                failures -= 1
                return true
            }
            if fails { return Response(status: .internalServerError) }
            // Held: no answer until released (bounded), as a receiver that hangs.
            for _ in 0..<1200 where holding { try await Task.sleep(nanoseconds: 50_000_000) }
            return Response(status: .accepted)
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { bound.continuation.yield($0.localAddress?.port ?? 0); bound.continuation.finish() })
        task = Task { try? await app.run() }
        for await chosen in bound.stream { port = chosen }
        test.addTeardownBlock { [task] in task?.cancel() }
    }

    /// Waits (up to `seconds`) until `count` deliveries have come to `path`: them all.
    func wait(for count: Int, at path: String, seconds: Double = 60) async throws -> [Delivery] {
        try await ServeProcess.poll("\(count) deliveries at \(path) (got \(deliveries.map(\.path)))", seconds: seconds) {
            let matching = self.deliveries.filter { $0.path == path }
            return matching.count >= count ? matching : nil
        }
    }
}
