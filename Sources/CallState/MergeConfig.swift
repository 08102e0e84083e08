/// Tunables of one session's engine: the `merge.*` keys of PROTOCOL.md §8, the
/// timeline bound, the idempotency memory and the quality warning thresholds (§4).
public struct MergeConfig: Sendable, Hashable, Codable {
    /// An update more than this far ahead of the hub's clock is clamped to it (§2.1).
    public var maxFutureSkewMs: Int64
    /// A winner replacing a value from another source kind set less than this
    /// earlier is a `concurrent` conflict (§2.4).
    public var conflictWindowMs: Int64
    /// Client and provider may disagree this long (`pending`) before `syncStatus`
    /// becomes `conflict` (§2.5).
    public var pendingWindowMs: Int64
    /// Timeline entries kept per session, oldest dropped first (§2.7).
    public var timelineEntries: Int
    /// `(source, eventId)` pairs remembered per session for idempotency (§2.3);
    /// the oldest is forgotten first. A duplicate older than this is merged
    /// again, which is harmless: merging an update twice changes nothing.
    public var dedupeWindow: Int

    /// `high-rtt` when a sample's round trip exceeds this, ms.
    public var highRttMs: Double
    /// `high-jitter` when a sample's jitter exceeds this, ms.
    public var highJitterMs: Double
    /// `high-packet-loss` when a sample's loss exceeds this, percent.
    public var highPacketLossPct: Double
    /// `low-mos` when a sample's MOS is below this.
    public var lowMos: Double
    /// How many recent samples a warning looks at (5).
    public var warningWindow: Int
    /// How many of them must cross to raise it (3).
    public var warningRaiseCount: Int
    /// A warning is cleared no sooner than this after it was raised, ms.
    public var warningClearDelayMs: Int64

    /// Creates a configuration; every default is the contract's.
    public init(maxFutureSkewMs: Int64 = 5000, conflictWindowMs: Int64 = 1000,
                pendingWindowMs: Int64 = 3000, timelineEntries: Int = 500,
                dedupeWindow: Int = 4096,
                highRttMs: Double = 400, highJitterMs: Double = 30,
                highPacketLossPct: Double = 1, lowMos: Double = 3.5,
                warningWindow: Int = 5, warningRaiseCount: Int = 3,
                warningClearDelayMs: Int64 = 5000) {
        self.maxFutureSkewMs = maxFutureSkewMs
        self.conflictWindowMs = conflictWindowMs
        self.pendingWindowMs = pendingWindowMs
        self.timelineEntries = max(0, timelineEntries)
        self.dedupeWindow = max(0, dedupeWindow)
        self.highRttMs = highRttMs
        self.highJitterMs = highJitterMs
        self.highPacketLossPct = highPacketLossPct
        self.lowMos = lowMos
        self.warningWindow = max(1, warningWindow)
        self.warningRaiseCount = max(1, warningRaiseCount)
        self.warningClearDelayMs = warningClearDelayMs
    }
}
