/// Whether the client's and the provider's views of `callState` agree (§2.5).
public enum SyncStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// They agree, or one side has not reported.
    case synchronized
    /// They differ, for less than `merge.pendingWindowMs` so far.
    case pending
    /// They have differed for at least `merge.pendingWindowMs`.
    case conflict
}

/// Tracks how long client and provider have disagreed, on the hub clock.
///
/// The window starts at the hub time of the input that made them differ and
/// keeps running while they keep differing (even if one side moves to another
/// differing state); agreement resets it. Hub time, not update `ts`, because
/// the window exists to give a lagging webhook time to arrive.
struct SyncTracker: Sendable, Codable {
    private(set) var status: SyncStatus = .synchronized
    private var differingSince: Int64?

    /// Re-evaluates at `now`; true if `status` changed.
    mutating func update(client: CallStateValue?, provider: CallStateValue?, now: Int64,
                         windowMs: Int64) -> Bool {
        let before = status
        if let client, let provider, client != provider {
            let since = differingSince ?? now
            differingSince = since
            status = now.saturatingSubtract(since) >= windowMs ? .conflict : .pending
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
