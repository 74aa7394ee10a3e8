import Foundation
import MedicServeTestKit
import MedicEngine
import MedicModel
import MedicServer
import XCTest

/// A notification channel's breaker, driven through `ChannelDelivery` against a real loopback
/// receiver on a clock moved by hand: once its cooldown has passed, the channel is tried by a
/// limited number of trial sends, not by every send that comes.
final class ChannelGuardTests: XCTestCase {
    /// A clock that moves only when told to (or slept on).
    final class HandClock: EngineClock, @unchecked Sendable {
        private let lock = NSLock()
        private var current = Date(timeIntervalSince1970: 1_800_000_000)
        var now: Date { lock.withLock { current } }
        func advance(_ seconds: Double) { lock.withLock { current += seconds } }
        func sleep(seconds: Double) async throws {
            try Task.checkCancellation()
            advance(max(0, seconds))
        }
    }

    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var refusals: [String] = []
        private var sent = 0
        func addRefusal(_ why: String) { lock.withLock { refusals.append(why) } }
        func addDelivery() { lock.withLock { sent += 1 } }
        var refused: [String] { lock.withLock { refusals } }
        var delivered: Int { lock.withLock { sent } }
    }

    static func notification(_ n: Int) -> IncidentNotification {
        IncidentNotification(kind: .escalation, dedupKey: "incident-\(n)/level-1", incident: "incident-\(n)", level: 1, notify: "on_call",
                     method: "webhook", severity: "SEV1", policy: "p", summary: "disk full", reason: nil, labels: [:])
    }

    func testAfterTheCooldownOnlyTheHalfOpenTrialGoesThroughAndTheOthersAreRefused() async throws {
        let receiver = try await LoopbackReceiver(self)
        let clock = HandClock()
        var settings = ChannelDelivery.Settings()
        settings.retry = RetryPolicy(attempts: 1, backoff: .linear, initial: Interval(seconds: 1), max: Interval(seconds: 1))
        settings.breakerFailures = 1
        settings.breakerCooldown = 60
        let http = HTTPExecutor()
        let delivery = ChannelDelivery(executors: ExecutorSet(shell: http, bus: http, http: http), settings: settings, clock: clock,
                                       timeouts: ["webhook": 3600])
        let channel = NotificationChannel.webhook(url: URL(string: "\(receiver.url)/hook")!)

        // One failed send opens the channel; while it is open, nothing is sent.
        receiver.failing = 1
        do {
            try await delivery.send(Self.notification(0), method: "webhook", channel: channel)
            XCTFail("a send answered 500 must fail")
        } catch {}
        do {
            try await delivery.send(Self.notification(1), method: "webhook", channel: channel)
            XCTFail("an open channel must refuse")
        } catch {
            XCTAssertTrue("\(error)".contains("webhook"), "the refusal names the channel: \(error)")
        }
        XCTAssertEqual(receiver.deliveries.count, 1)

        // The cooldown passes; the receiver now takes its time. Three sends come at once: one is
        // the trial, the two others are refused while it is in flight.
        clock.advance(61)
        receiver.holding = true
        let outcomes = Outcomes()
        let sends = (2...4).map { n in
            Task {
                do {
                    try await delivery.send(Self.notification(n), method: "webhook", channel: channel)
                    outcomes.addDelivery()
                } catch {
                    outcomes.addRefusal("\(error)")
                }
            }
        }
        _ = try await ServeProcess.poll("the trial at the receiver and the other sends refused, or more than one trial sent") {
            receiver.deliveries.count >= 3 || (receiver.deliveries.count == 2 && outcomes.refused.count == 2) ? true : nil
        }
        let reached = receiver.deliveries.count
        receiver.holding = false
        for send in sends { await send.value }
        XCTAssertEqual(reached - 1, 1, "one trial send reaches the half-open channel, not every send after the cooldown")
        XCTAssertEqual(outcomes.refused.count, 2, "\(outcomes.refused)")
        XCTAssertEqual(outcomes.delivered, 1)

        // The trial's success closed the channel: the next send goes through at once.
        try await delivery.send(Self.notification(5), method: "webhook", channel: channel)
        XCTAssertEqual(receiver.deliveries.count, reached + 1)
    }
}
