/// What became of one update inside the engine: its outcome and whether its
/// `ts` was clamped. `UpdateFate.clamped` hides the outcome; this keeps both.
struct UpdateResult: Sendable, Hashable, Codable {
    /// `applied`, `stale`, `duplicate`, `conflict` or `invalid` (never `clamped`).
    var outcome: UpdateFate
    /// Whether its `ts` was clamped to the hub clock (§2.1).
    var clamped: Bool

    /// The timeline's single fate: `clamped` wins over the outcome (§2.7).
    var fate: UpdateFate { clamped ? .clamped : outcome }

    /// The `ack.ignored` reason, nil if it won.
    var ignoreReason: IgnoreReason? {
        switch outcome {
        case .applied, .clamped: return nil
        case .stale: return .stale
        case .duplicate: return .duplicate
        case .conflict: return .conflict
        case .invalid: return .invalid
        }
    }
}

/// The results of an input's updates, packed 4 bits each into one word (16 of
/// them) and spilling into an array only for larger inputs: an outcome and a
/// timeline entry share it, and building it allocates nothing.
struct UpdateResults: Sendable, Hashable, Codable {
    private static let perWord = 16
    private var packed: UInt64 = 0
    private var spill: [UpdateResult] = []
    private(set) var count = 0

    /// `count` results of `outcome`, unclamped (a duplicate input).
    init(repeating outcome: UpdateFate = .applied, count: Int = 0) {
        for _ in 0..<count { append(UpdateResult(outcome: outcome, clamped: false)) }
    }

    mutating func append(_ result: UpdateResult) {
        if count < UpdateResults.perWord {
            packed |= UInt64(result.code) << UInt64(4 * count)
        } else {
            spill.append(result)
        }
        count += 1
    }

    subscript(i: Int) -> UpdateResult {
        guard i < UpdateResults.perWord else { return spill[i - UpdateResults.perWord] }
        return UpdateResult(code: UInt8(truncatingIfNeeded: packed >> UInt64(4 * i)) & 0xF)
    }
}

extension UpdateResult {
    /// Low 3 bits: the outcome; bit 3: clamped.
    fileprivate var code: UInt8 {
        let base: UInt8
        switch outcome {
        case .applied, .clamped: base = 0
        case .stale: base = 1
        case .duplicate: base = 2
        case .conflict: base = 3
        case .invalid: base = 4
        }
        return clamped ? base | 8 : base
    }

    fileprivate init(code: UInt8) {
        let outcome: UpdateFate
        switch code & 7 {
        case 0: outcome = .applied
        case 1: outcome = .stale
        case 2: outcome = .duplicate
        case 3: outcome = .conflict
        default: outcome = .invalid
        }
        self.init(outcome: outcome, clamped: code & 8 != 0)
    }
}
