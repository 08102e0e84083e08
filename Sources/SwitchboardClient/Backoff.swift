/// Reconnect delays: full-jitter exponential backoff (the browser client's
/// policy, docs/browser-client.md).
///
/// Attempt *n* waits `random() × min(maxMs, initialMs × 2ⁿ)`, so a thousand
/// phones dropped by a hub restart do not return in lock-step. The attempt
/// counter resets once a connection has stayed up `stableMs`. After 4029
/// (rate limited) the wait is uniform in [`maxMs`/2, `maxMs`].
public struct Backoff: Sendable, Equatable {
    /// Cap of the first retry's delay.
    public var initialMs: Int
    /// Largest delay.
    public var maxMs: Int
    /// A connection open this long resets the attempt counter.
    public var stableMs: Int

    /// 500 ms initial, 30 s max, 10 s to count as stable.
    public static let `default` = Backoff(initialMs: 500, maxMs: 30_000, stableMs: 10_000)

    /// - Parameters:
    ///   - initialMs: cap of the first retry's delay.
    ///   - maxMs: largest delay (raised to `initialMs` if smaller).
    ///   - stableMs: uptime after which the attempt counter resets.
    public init(initialMs: Int, maxMs: Int, stableMs: Int) {
        self.initialMs = max(1, initialMs)
        self.maxMs = max(self.initialMs, maxMs)
        self.stableMs = stableMs
    }

    /// The delay before retry number `attempt` (0-based); `random` is uniform in [0, 1).
    public func delayMs(attempt: Int, random: Double) -> Int {
        let exponent = min(max(0, attempt), 30)
        let cap = min(Double(maxMs), Double(initialMs) * Double(1 << exponent))
        return Int(random * cap)
    }

    /// The delay after a 4029 (rate or connection limit).
    public func rateLimitedDelayMs(random: Double) -> Int {
        Int(Double(maxMs) / 2 + random * Double(maxMs) / 2)
    }
}
