/// Token buckets by key (a token's `sub` + `sid` for HTTP writes,
/// `limits.httpWritesPerSecond` with bursts of `limits.httpWriteBurst`).
///
/// A bucket holds up to `burst` tokens and refills at `perSecond`; each
/// request takes one. A key with no bucket has a full one, so buckets that
/// have refilled are dropped (`forgetIdle`) and memory follows active keys.
/// Not thread-safe: owned by the hub's reactor.
final class RateLimiter {
    private struct Bucket {
        var tokens: Double
        var at: Int64
    }

    let perSecond: Double
    let burst: Double
    private var buckets: [String: Bucket] = [:]

    init(perSecond: Double, burst: Double) {
        self.perSecond = max(perSecond, 0.001)
        self.burst = max(burst, 1)
    }

    /// Buckets held now (tests, metrics).
    var count: Int { buckets.count }

    /// Takes one token for `key` at `now` (ms). Nil when allowed; else the
    /// whole seconds until a token is back (the `Retry-After` value, ≥ 1).
    func take(_ key: String, now: Int64) -> Int? {
        var bucket = buckets[key] ?? Bucket(tokens: burst, at: now)
        let elapsed = Double(max(0, now - bucket.at)) / 1000
        bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            let wait = (1 - bucket.tokens) / perSecond
            return max(1, Int(wait.rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        return nil
    }

    /// Drops the buckets that are full again by `now`.
    func forgetIdle(now: Int64) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double(max(0, now - bucket.at)) / 1000 * perSecond < burst
        }
    }
}
