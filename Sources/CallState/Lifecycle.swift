/// The `callState` observations the derived fields depend on (§1), each kept
/// as its witness update so the state stays a function of the set of updates.
///
/// Every observed `callState` update counts, winner or not: a `connected` that
/// lost to an `ended` was still observed, so it still answers the call. Each
/// witness is the extreme of a total order (earliest `ts`, ties to the greater
/// merge key; or the greatest merge key), so arrival order cannot change it.
struct Lifecycle: Sendable {
    /// Earliest observation of lifecycle rank ≥ 1 (`startedAt`).
    private(set) var started: FieldRegister?
    /// Earliest connected-rank (4) observation (`answeredAt`).
    private(set) var answered: FieldRegister?
    /// Earliest terminal observation (`endedAt`).
    private(set) var ended: FieldRegister?
    /// The client-reported state that wins the merge order among client updates (§2.5).
    private(set) var latestClient: FieldRegister?
    /// The same among provider updates.
    private(set) var latestProvider: FieldRegister?

    // What the hot path reads, kept beside the witnesses so reading it copies
    // no register.
    /// The derived times as the document shows them.
    private(set) var times = Times()
    /// `latestClient`'s state.
    private(set) var clientState: CallStateValue?
    /// `latestProvider`'s state.
    private(set) var providerState: CallStateValue?

    /// The derived values as the document shows them.
    struct Times: Equatable, Sendable {
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
        if state.lifecycleRank >= 1 && Lifecycle.keepEarliest(register, in: &started) { times.startedAt = ts }
        if state.lifecycleRank == 4 && Lifecycle.keepEarliest(register, in: &answered) { times.answeredAt = ts }
        if state.isTerminal && Lifecycle.keepEarliest(register, in: &ended) { times.endedAt = ts }
        switch register.update.sourceKind {
        case .client: if Lifecycle.keepGreatest(register, in: &latestClient) { clientState = state }
        case .provider: if Lifecycle.keepGreatest(register, in: &latestProvider) { providerState = state }
        case .backend: break
        }
    }

    /// The witness updates (possibly repeated).
    var witnesses: [Update] {
        [started, answered, ended, latestClient, latestProvider].compactMap { $0?.update }
    }

    /// Replaces the witness if `candidate` is earlier; true if it did.
    private static func keepEarliest(_ candidate: FieldRegister, in slot: inout FieldRegister?) -> Bool {
        if let current = slot?.key, candidate.key.ts > current.ts { return false }
        if let current = slot, candidate.key.ts == current.key.ts, candidate.compare(with: current).order <= 0 {
            return false
        }
        slot = candidate
        return true
    }

    /// Replaces the witness if `candidate` is greater in the merge order; true if it did.
    private static func keepGreatest(_ candidate: FieldRegister, in slot: inout FieldRegister?) -> Bool {
        if let current = slot, candidate.compare(with: current).order <= 0 { return false }
        slot = candidate
        return true
    }
}
