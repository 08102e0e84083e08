/// Remembers generic / Asterisk signatures that do not name their target
/// (`v1`) for as long as they verify, and the target each was first used on
/// (PROTOCOL.md §6 v1.1): the same signature on another path is a replay onto
/// another session and is refused; on the same target it is a sender's retry.
///
/// Bounded by `capacity` (`limits.maxRememberedSignatures`). Entries are
/// forgotten once their timestamp is out of tolerance (they cannot verify
/// any more). When the memory is full of live entries it fails closed: a new
/// unbound signature is refused (503, retry later, or sign `v2`) rather than
/// forgetting one that could then be replayed.
///
/// Not thread-safe: owned by the hub's reactor.
public final class SignatureMemory {
    /// What `admit` decided.
    public enum Verdict: Equatable, Sendable {
        /// First use, now remembered.
        case fresh
        /// Seen before on this same target: a retry, processed as usual
        /// (idempotency makes it a duplicate).
        case retry
        /// Seen before on another target: a replay, refuse with 401.
        case otherTarget
        /// Full of live entries: refuse with 503 for `retryAfter` seconds.
        case full(retryAfter: Int64)
    }

    private struct Entry {
        let target: String
        let expiresAt: Int64
    }

    /// The most signatures held at once.
    public let capacity: Int
    private var entries: [[UInt8]: Entry] = [:]
    /// The earliest expiry seen at the last sweep: no sweep can free
    /// anything before then, so a full memory is not rescanned per request.
    private var nextExpiry: Int64 = .max

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Signatures held now.
    public var count: Int { entries.count }

    /// Checks a verified signature against what was seen, and remembers it.
    /// - Parameters:
    ///   - binding: from the provider's verification; nothing to do when it
    ///     carries no unbound MAC (a `v2` over the full target).
    ///   - nowSeconds: the hub's clock, unix seconds.
    public func admit(_ binding: SignatureBinding, nowSeconds: Int64) -> Verdict {
        guard let mac = binding.unboundMAC else { return .fresh }
        if let seen = entries[mac], seen.expiresAt > nowSeconds {
            return seen.target == binding.target ? .retry : .otherTarget
        }
        if entries.count >= capacity {
            sweep(nowSeconds: nowSeconds)
            if entries.count >= capacity { return .full(retryAfter: max(1, nextExpiry - nowSeconds)) }
        }
        entries[mac] = Entry(target: binding.target, expiresAt: binding.expiresAt)
        nextExpiry = min(nextExpiry, binding.expiresAt)
        return .fresh
    }

    /// Drops every entry whose signature can no longer verify. Runs when the
    /// memory is full, at most once per expiry time.
    public func sweep(nowSeconds: Int64) {
        guard nowSeconds >= nextExpiry else { return }
        entries = entries.filter { $0.value.expiresAt > nowSeconds }
        nextExpiry = entries.values.map(\.expiresAt).min() ?? .max
    }
}
