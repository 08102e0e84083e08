/// Reconnect delays for a live call (the browser client's policy,
/// docs/browser-client.md and docs/swift-client.md, "Reconnecting").
///
/// - The first retry of an outage waits `random × initialMs` (250 ms): quick,
///   yet the clients a hub drops at once do not all come back in the same
///   millisecond. After a 1001 (the hub is restarting) it waits
///   `random × drainRetryMs` (1 s): the new process is usually up within a
///   second, and a whole hub's clients are spread over that second.
/// - Later retries use decorrelated jitter: uniform in
///   [`initialMs`, 3 × the previous delay], capped at `maxMs` (5 s) and at
///   `outageRatio` × the time the link has been down (never below
///   `initialMs`). So waiting never adds more than 15 % to an outage: a
///   10 s outage is left within 1.5 s of the hub's return (plus the time to
///   connect), a long one within 5 s.
/// - After 4029 (rate or connection limit) the wait is uniform in
///   [`maxMs`/2, `maxMs`].
/// - The outage ends, and the next starts afresh, when the hub's first frame
///   arrives on a connection.
public struct Backoff: Sendable, Equatable {
    /// Spread of the first retry of an outage, and the smallest later delay.
    public var initialMs: Int
    /// Largest delay.
    public var maxMs: Int
    /// Spread of the first retry after a 1001 from a draining hub.
    public var drainRetryMs: Int
    /// No delay is longer than this share of the time the link has been down.
    public var outageRatio: Double

    /// 250 ms, 5 s, 1 s, 0.15 (see the type's documentation for why).
    public static let `default` = Backoff()

    /// - Parameters:
    ///   - initialMs: spread of the first retry (at least 1).
    ///   - maxMs: largest delay (raised to `initialMs` if smaller).
    ///   - drainRetryMs: spread of the first retry after a 1001.
    ///   - outageRatio: cap as a share of the downtime so far.
    public init(initialMs: Int = 250, maxMs: Int = 5000, drainRetryMs: Int = 1000, outageRatio: Double = 0.15) {
        self.initialMs = max(1, initialMs)
        self.maxMs = max(self.initialMs, maxMs)
        self.drainRetryMs = max(0, drainRetryMs)
        self.outageRatio = max(0, outageRatio)
    }

    /// The delay before the next attempt.
    /// - Parameters:
    ///   - previousMs: the previous delay of this outage; 0 for its first retry.
    ///   - downMs: how long the link has been down.
    ///   - closeCode: the close code that ended the last connection, if any.
    ///   - random: uniform in [0, 1).
    public func delayMs(previousMs: Int, downMs: Int, closeCode: Int?, random: Double) -> Int {
        if closeCode == 4029 { return Int(Double(maxMs) / 2 + random * Double(maxMs) / 2) }
        if previousMs <= 0 { return Int(random * Double(closeCode == 1001 ? drainRetryMs : initialMs)) }
        let upper = 3 * Double(max(previousMs, initialMs))
        let delay = Double(initialMs) + random * (upper - Double(initialMs))
        let cap = min(Double(maxMs), max(Double(initialMs), outageRatio * Double(max(0, downMs))))
        return Int(min(delay, cap))
    }
}
