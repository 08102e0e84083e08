import CallState

/// Collects the updates of one input: every update of a webhook shares its
/// `ts`, `source`, `sourceKind`, `seq` and `eventId` (PROTOCOL §2).
struct UpdateBuilder {
    let ts: Int64
    let source: String
    let sourceKind: SourceKind
    let seq: Int64
    let eventId: String?
    private(set) var updates: [Update] = []

    init(ts: Int64, source: String, sourceKind: SourceKind = .provider, seq: Int64 = 0, eventId: String?) {
        self.ts = ts
        self.source = source
        self.sourceKind = sourceKind
        self.seq = seq
        self.eventId = eventId
    }

    mutating func set(_ field: Field, _ value: JSONValue) {
        updates.append(Update(field: field, value: value, ts: ts, source: source,
                              sourceKind: sourceKind, seq: seq, eventId: eventId))
    }

    /// Sets a string field; absent and empty strings say nothing, so skip them.
    mutating func set(_ field: Field, string: String?) {
        guard let string, !string.isEmpty else { return }
        set(field, .string(string))
    }

    mutating func set(_ field: Field, state: CallStateValue?) {
        guard let state else { return }
        set(field, .string(state.rawValue))
    }

    func input(kind: String, receivedAt: Int64, quality: [QualitySample] = []) -> Input {
        Input(kind: kind, source: source, sourceKind: sourceKind, eventId: eventId,
              receivedAt: receivedAt, updates: updates, quality: quality)
    }
}
