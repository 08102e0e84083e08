/// Collects the updates of one input: every update of a webhook shares its
/// `ts`, `source`, `sourceKind`, `seq` and `eventId` (PROTOCOL §2).
public struct UpdateBuilder: Sendable {
    public let ts: Int64
    public let source: String
    public let sourceKind: SourceKind
    public let seq: Int64
    public let eventId: String?
    public private(set) var updates: [Update] = []

    public init(ts: Int64, source: String, sourceKind: SourceKind = .provider, seq: Int64 = 0, eventId: String?) {
        self.ts = ts
        self.source = source
        self.sourceKind = sourceKind
        self.seq = seq
        self.eventId = eventId
    }

    /// Adds one update with the builder's shared `ts`, `source`, `seq`, `eventId`.
    public mutating func set(_ field: Field, _ value: JSONValue) {
        updates.append(Update(field: field, value: value, ts: ts, source: source,
                              sourceKind: sourceKind, seq: seq, eventId: eventId))
    }

    /// Sets a string field; absent and empty strings say nothing, so skip them.
    public mutating func set(_ field: Field, string: String?) {
        guard let string, !string.isEmpty else { return }
        set(field, .string(string))
    }

    /// Sets `callState`-shaped fields; nil says nothing.
    public mutating func set(_ field: Field, state: CallStateValue?) {
        guard let state else { return }
        set(field, .string(state.rawValue))
    }

    /// The finished input.
    public func input(kind: String, receivedAt: Int64, quality: [QualitySample] = []) -> Input {
        Input(kind: kind, source: source, sourceKind: sourceKind, eventId: eventId,
              receivedAt: receivedAt, updates: updates, quality: quality)
    }
}
