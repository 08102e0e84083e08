extension CallSession {
    /// Whether the call is *stale* at hub time `now`: it has not ended, and
    /// no input has changed its document or quality (`lastSync`) for at
    /// least `afterMs`. A derived flag, read, never merged: it is not a
    /// `callState` and no input carries it, so a call that is heard from
    /// again is simply not stale any more, and convergence is untouched.
    /// `afterMs` ≤ 0 turns it off. A session with no accepted change yet is
    /// never stale (it has nothing to be out of date about).
    public func isStale(now: Int64, afterMs: Int64) -> Bool {
        guard afterMs > 0, let lastSync = lastSyncAt, currentCallState?.isTerminal != true else { return false }
        return now.saturatingSubtract(lastSync) >= afterMs
    }
}
