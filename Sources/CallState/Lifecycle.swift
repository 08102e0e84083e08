/// The `callState` observations the derived fields depend on (§1), each kept
/// as its witness update so the state stays a function of the set of updates.
///
/// Every observed `callState` update counts, winner or not: a `connected` that
/// lost to an `ended` was still observed, so it still answers the call. Each
/// witness is the extreme of a total order (earliest `ts`, ties to the greater
/// merge key; or the greatest merge key), so arrival order cannot change it.
struct Lifecycle: Sendable, Codable {
    // What every input reads comes first and stays small; the witnesses live
    // out of line (they are touched only by `callState` updates), which keeps
    // `CallSession` compact.
    /// The derived times as the document shows them.
    private(set) var times = Times()
    /// The state of the client witness.
    private(set) var clientState: CallStateValue?
    /// The state of the provider witness.
    private(set) var providerState: CallStateValue?
    /// The witness registers, indexed by `Witness`.
    private var witnessRegisters = Array(repeating: FieldRegister.unset, count: Witness.allCases.count)

    /// The observations kept.
    enum Witness: Int, CaseIterable, Codable {
        /// Earliest observation of lifecycle rank ≥ 1 (`startedAt`).
        case started
        /// Earliest connected-rank (4) observation (`answeredAt`).
        case answered
        /// Earliest terminal observation (`endedAt`).
        case ended
        /// The client-reported state that wins the merge order among client updates (§2.5).
        case latestClient
        /// The same among provider updates.
        case latestProvider
    }

    /// The derived values as the document shows them.
    struct Times: Equatable, Sendable, Codable {
        var startedAt: Int64?
        var answeredAt: Int64?
        var endedAt: Int64?
        /// Whole seconds from answer to end, never negative: a `connected`
        /// observed after the end (clock skew) must not give a negative length.
        var duration: Int64? {
            guard let answeredAt, let endedAt else { return nil }
            return Swift.max(0, endedAt.saturatingSubtract(answeredAt) / 1000)
        }
    }

    /// Folds in one `callState` observation (`register.state` is non-nil).
    mutating func observe(_ register: FieldRegister) {
        guard let state = register.state else { return }
        let ts = register.update.ts
        if state.lifecycleRank >= 1 && Lifecycle.keepEarliest(register, in: &witnessRegisters[Witness.started.rawValue]) {
            times.startedAt = ts
        }
        if state.lifecycleRank == 4 && Lifecycle.keepEarliest(register, in: &witnessRegisters[Witness.answered.rawValue]) {
            times.answeredAt = ts
        }
        if state.isTerminal && Lifecycle.keepEarliest(register, in: &witnessRegisters[Witness.ended.rawValue]) {
            times.endedAt = ts
        }
        switch register.update.sourceKind {
        case .client:
            if Lifecycle.keepGreatest(register, in: &witnessRegisters[Witness.latestClient.rawValue]) { clientState = state }
        case .provider:
            if Lifecycle.keepGreatest(register, in: &witnessRegisters[Witness.latestProvider.rawValue]) {
                providerState = state
            }
        case .backend: break
        }
    }

    /// The witness updates (possibly repeated).
    var witnesses: [Update] { witnessRegisters.compactMap(\.winner) }

    // Both helpers take the stored witness `inout`: reading it out of the
    // array to compare cost a copy of the register (four retains and releases).

    /// Replaces the witness if `candidate` is earlier (ties: greater merge key); true if it did.
    private static func keepEarliest(_ candidate: FieldRegister, in current: inout FieldRegister) -> Bool {
        if current.isSet {
            if candidate.update.ts > current.update.ts { return false }
            if candidate.update.ts == current.update.ts && candidate.compare(with: current).order <= 0 { return false }
        }
        current = candidate
        return true
    }

    /// Replaces the witness if `candidate` is greater in the merge order; true if it did.
    private static func keepGreatest(_ candidate: FieldRegister, in current: inout FieldRegister) -> Bool {
        if current.isSet && candidate.compare(with: current).order <= 0 { return false }
        current = candidate
        return true
    }
}
