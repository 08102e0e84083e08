import Foundation

/// Fans values out to any number of `AsyncStream` subscribers.
///
/// `@unchecked Sendable`: `subscribers`, `latest` and `finished` are only
/// touched while holding `lock`; continuations are resumed outside it.
final class Broadcaster<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [Int: AsyncStream<Value>.Continuation] = [:]
    private var nextKey = 0
    private var latest: Value?
    private var finished = false
    private let replaysLatest: Bool
    private let limit: Int

    /// - Parameters:
    ///   - replaysLatest: a new subscriber first gets the last value sent.
    ///   - limit: values buffered per slow subscriber (oldest dropped).
    init(replaysLatest: Bool, limit: Int = 1024) {
        self.replaysLatest = replaysLatest
        self.limit = limit
    }

    /// A new stream of every value sent from now on (after the latest, if replayed).
    func subscribe() -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        lock.lock()
        if finished {
            lock.unlock()
            if replaysLatest, let latest { continuation.yield(latest) }
            continuation.finish()
            return stream
        }
        let key = nextKey
        nextKey += 1
        subscribers[key] = continuation
        let replay = replaysLatest ? latest : nil
        lock.unlock()
        if let replay { continuation.yield(replay) }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.withLock { _ = self.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    /// Sends a value to every subscriber.
    func send(_ value: Value) {
        let targets = lock.withLock { () -> [AsyncStream<Value>.Continuation] in
            latest = value
            return Array(subscribers.values)
        }
        for target in targets { target.yield(value) }
    }

    /// Ends every stream; later subscribers get the latest value and end.
    func finish() {
        let targets = lock.withLock { () -> [AsyncStream<Value>.Continuation] in
            finished = true
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }
        for target in targets { target.finish() }
    }
}
