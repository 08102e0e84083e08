/// Whether the client's and the provider's views of `callState` agree (§2.5).
public enum SyncStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// They agree, or one side has not reported.
    case synchronized
    /// They differ, for less than `merge.pendingWindowMs` so far.
    case pending
    /// They have differed for at least `merge.pendingWindowMs`, on a call
    /// that has not ended (an ended call settles to `synchronized`).
    case conflict
}

/// Tracks how long client and provider have disagreed, on the hub clock.
///
/// The window starts at the hub time of the input that made them differ and
/// keeps running while they keep differing (even if one side moves to another
/// differing state); agreement resets it. Hub time, not update `ts`, because
/// the window exists to give a lagging webhook time to arrive.
///
/// After a terminal state (the merged `callState` is terminal) there is
/// nothing left to keep in step, so a disagreement *settles* instead of
/// turning into `conflict` (issue 27): two different terminal states (`busy`
/// and `declined`) already agree that the call is over, `synchronized` at
/// once; one side still live (a client that never reported the end) is
/// `pending` for the window, so a lagging side may still catch up, then
/// `synchronized`. The disagreement itself stays in the conflicts and the
/// timeline; `conflict` means a live call whose sides need attention.
struct SyncTracker: Sendable, Codable {
    private(set) var status: SyncStatus = .synchronized
    private var differingSince: Int64?

    /// Re-evaluates at `now`; true if `status` changed.
    /// - Parameter ended: the merged `callState` is terminal.
    mutating func update(client: CallStateValue?, provider: CallStateValue?, now: Int64,
                         windowMs: Int64, ended: Bool = false) -> Bool {
        let before = status
        if let client, let provider, client != provider, !(client.isTerminal && provider.isTerminal) {
            let since = differingSince ?? now
            differingSince = since
            let windowPassed = now.saturatingSubtract(since) >= windowMs
            status = windowPassed ? (ended ? .synchronized : .conflict) : .pending
        } else {
            differingSince = nil
            status = .synchronized
        }
        return status != before
    }

    /// When a `pending` status turns into `conflict`, if it is pending.
    func deadline(windowMs: Int64) -> Int64? {
        guard status == .pending, let since = differingSince else { return nil }
        return since.saturatingAdd(windowMs)
    }
}
