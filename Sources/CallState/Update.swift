/// One observation of one field: the unit the merge order compares (§2).
public struct Update: Hashable, Sendable, Codable {
    /// The field written.
    public var field: Field
    /// The value observed (already validated and normalised by the edge).
    public var value: JSONValue
    /// When the source observed it, ms since the epoch (hub receive time if unknown).
    public var ts: Int64
    /// `twilio`, `elevenlabs`, …, or `client:<sub>`.
    public var source: String
    /// provider / backend / client.
    public var sourceKind: SourceKind
    /// The source's own ordering number, else 0.
    public var seq: Int64
    /// The input's idempotency key within `source`, if it has one.
    public var eventId: String?

    public init(field: Field, value: JSONValue, ts: Int64, source: String,
                sourceKind: SourceKind, seq: Int64 = 0, eventId: String? = nil) {
        self.field = field
        self.value = value
        self.ts = ts
        self.source = source
        self.sourceKind = sourceKind
        self.seq = seq
        self.eventId = eventId
    }
}

/// One call-quality sample (PROTOCOL.md §4), already converted to milliseconds
/// and percent by the edge.
public struct QualitySample: Hashable, Sendable, Codable {
    public var ts: Int64
    /// One-way latency in ms (`rtt / 2` when the source gave a round trip).
    public var latency: Double?
    /// Round-trip time in ms, when the source gave one.
    public var rtt: Double?
    public var jitter: Double?
    /// Percent, 0-100.
    public var packetLoss: Double?
    /// A MOS the source measured itself (1-4.5); computed by the E-model otherwise.
    public var mos: Double?
    public var source: String

    public init(ts: Int64, latency: Double? = nil, rtt: Double? = nil, jitter: Double? = nil,
                packetLoss: Double? = nil, mos: Double? = nil, source: String) {
        self.ts = ts
        self.latency = latency
        self.rtt = rtt
        self.jitter = jitter
        self.packetLoss = packetLoss
        self.mos = mos
        self.source = source
    }
}

/// Everything one request or message contributed: the unit of idempotency,
/// of the timeline (§2.7) and of acknowledgement.
public struct Input: Hashable, Sendable {
    /// What it was, for the timeline: `twilio.status`, `client.report`, `backend.event`, …
    public var kind: String
    public var source: String
    public var sourceKind: SourceKind
    /// `(source, eventId)` identifies a duplicate (§2.3).
    public var eventId: String?
    /// Hub clock when it arrived, ms.
    public var receivedAt: Int64
    public var updates: [Update]
    public var quality: [QualitySample]

    public init(kind: String, source: String, sourceKind: SourceKind, eventId: String? = nil,
                receivedAt: Int64, updates: [Update] = [], quality: [QualitySample] = []) {
        self.kind = kind
        self.source = source
        self.sourceKind = sourceKind
        self.eventId = eventId
        self.receivedAt = receivedAt
        self.updates = updates
        self.quality = quality
    }
}
