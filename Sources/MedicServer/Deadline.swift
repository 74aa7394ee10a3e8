import Foundation

/// `body`'s result if it comes within `seconds`, else `Late` at once. `body` runs in a task of
/// its own that is cancelled then, and that may go on (a pool waiting for a server that is down
/// does not always heed cancellation): the caller is not kept waiting for it.
///
/// `gone`, when given, is asked every `every` seconds meanwhile: the error it returns is thrown
/// at once (the answer can no longer come: the connection it would come on has closed).
public func answered<T: Sendable>(within seconds: Double, unless gone: (@Sendable () -> (any Error)?)? = nil, every: Double = 0.05,
                                  _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = FirstOutcome<T>()
    let work = Task {
        do { outcome.give(.success(try await body())) } catch { outcome.give(.failure(error)) }
    }
    let timer = Task {
        if let gone {
            let end = ContinuousClock.now + .milliseconds(Int64(max(seconds, 0.001) * 1000))
            while ContinuousClock.now < end {
                // Cancelled: the answer came (the sleep would not wait any more).
                guard (try? await Task.sleep(nanoseconds: UInt64(max(every, 0.001) * 1e9))) != nil else { return }
                if let why = gone() { return outcome.give(.failure(why)) }
            }
        } else {
            try? await Task.sleep(nanoseconds: UInt64(max(seconds, 0.001) * 1e9))
        }
        outcome.give(.failure(Late(seconds: seconds)))
    }
    let result = await outcome.value()
    work.cancel()
    timer.cancel()
    return try result.get()
}

/// No answer in time.
public struct Late: Error, CustomStringConvertible {
    public let seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
    public var description: String { "no answer within \(seconds) s" }
}

/// The first result given; later ones are dropped.
final class FirstOutcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var waiter: CheckedContinuation<Result<T, any Error>, Never>?

    func give(_ given: Result<T, any Error>) {
        let resume: CheckedContinuation<Result<T, any Error>, Never>? = lock.withLock {
            guard result == nil else { return nil }
            result = given
            defer { waiter = nil }
            return waiter
        }
        resume?.resume(returning: given)
    }

    func value() async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            let ready: Result<T, any Error>? = lock.withLock {
                if let result { return result }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
