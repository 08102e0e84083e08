@testable import CallState

/// A fixed hub time far from zero, so `ts` values around it look like real clocks.
let t0: Int64 = 1_700_000_000_000

/// One update with test defaults (Twilio, provider).
func update(_ field: Field, _ value: JSONValue, ts: Int64, source: String = "twilio",
            kind: SourceKind = .provider, seq: Int64 = 0, eventId: String? = nil) -> Update {
    Update(field: field, value: value, ts: ts, source: source, sourceKind: kind, seq: seq, eventId: eventId)
}

/// An input made of `updates`, taking source and kind from the first one.
func input(_ updates: [Update], eventId: String? = nil, kind: String = "test",
           quality: [QualitySample] = [], receivedAt: Int64 = t0) -> Input {
    let first = updates.first
    return Input(kind: kind, source: first?.source ?? "client:alice", sourceKind: first?.sourceKind ?? .client,
                 eventId: eventId, receivedAt: receivedAt, updates: updates, quality: quality)
}

/// An input setting `callState`.
func stateInput(_ state: CallStateValue, ts: Int64, source: String = "twilio", kind: SourceKind = .provider,
                seq: Int64 = 0, eventId: String? = nil) -> Input {
    input([update(.callState, .string(state.rawValue), ts: ts, source: source, kind: kind, seq: seq,
                  eventId: eventId)], eventId: eventId)
}

/// A quality-only input from a client.
func qualityInput(_ samples: [QualitySample]) -> Input {
    Input(kind: "client.quality", source: "client:alice", sourceKind: .client, receivedAt: t0, quality: samples)
}

/// SplitMix64: a tiny, well-known seedable generator, so the property tests
/// are reproducible without a dependency.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
