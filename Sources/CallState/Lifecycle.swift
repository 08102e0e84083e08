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

    /// The derived values as the document shows them.
    struct Times: Equatable {
        var startedAt: Int64?
        var answeredAt: Int64?
        var endedAt: Int64?
        var duration: Int64?
    }

    var times: Times {
        let answeredAt = answered?.update.ts
        let endedAt = ended?.update.ts
        var duration: Int64?
        if let answeredAt, let endedAt {
            // A `connected` observed after the end (clock skew) must not give a negative length.
            duration = Swift.max(0, endedAt.saturatingSubtract(answeredAt) / 1000)
        }
        return Times(startedAt: started?.update.ts, answeredAt: answeredAt, endedAt: endedAt, duration: duration)
    }

    /// Folds in one `callState` observation (`register.state` is non-nil).
    mutating func observe(_ register: FieldRegister) {
        guard let state = register.state else { return }
        if state.lifecycleRank >= 1 { Lifecycle.keepEarliest(register, in: &started) }
        if state.lifecycleRank == 4 { Lifecycle.keepEarliest(register, in: &answered) }
        if state.isTerminal { Lifecycle.keepEarliest(register, in: &ended) }
        switch register.update.sourceKind {
        case .client: Lifecycle.keepGreatest(register, in: &latestClient)
        case .provider: Lifecycle.keepGreatest(register, in: &latestProvider)
        case .backend: break
        }
    }

    /// The witness updates (possibly repeated).
    var witnesses: [Update] {
        [started, answered, ended, latestClient, latestProvider].compactMap { $0?.update }
    }

    private static func keepEarliest(_ candidate: FieldRegister, in slot: inout FieldRegister?) {
        guard let current = slot else {
            slot = candidate
            return
        }
        if candidate.update.ts < current.update.ts
            || (candidate.update.ts == current.update.ts && candidate.compare(with: current).order > 0) {
            slot = candidate
        }
    }

    private static func keepGreatest(_ candidate: FieldRegister, in slot: inout FieldRegister?) {
        if let current = slot, candidate.compare(with: current).order <= 0 { return }
        slot = candidate
    }
}
