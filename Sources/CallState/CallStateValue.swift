/// The call lifecycle of PROTOCOL.md §1.1: the value of the `callState` field.
public enum CallStateValue: String, CaseIterable, Hashable, Sendable, Codable {
    case idle, initiated, queued, ringing, connecting, connected
    case onHold = "on_hold"
    case reconnecting
    case ended, declined, busy
    case noAnswer = "no_answer"
    case failed, canceled

    /// Lifecycle rank (§1.1): idle 0; initiated, queued 1; ringing 2;
    /// connecting 3; connected, on_hold, reconnecting 4; terminal 5.
    public var lifecycleRank: Int {
        switch self {
        case .idle: return 0
        case .initiated, .queued: return 1
        case .ringing: return 2
        case .connecting: return 3
        case .connected, .onHold, .reconnecting: return 4
        case .ended, .declined, .busy, .noAnswer, .failed, .canceled: return 5
        }
    }

    /// A terminal state ends the call; the merge keeps it against any later
    /// non-terminal state (§2.2 rule 1).
    public var isTerminal: Bool { lifecycleRank == 5 }

    /// The coarse status the seed's call log used, derived from the state.
    public var logStatus: LogStatus {
        switch self {
        case .idle, .initiated, .queued, .ringing, .connecting: return .initiated
        case .connected, .onHold, .reconnecting: return .connected
        case .ended: return .ended
        case .declined, .busy, .noAnswer, .failed, .canceled: return .failed
        }
    }
}

/// `logStatus` of §1: derived from `callState`, never set directly.
public enum LogStatus: String, Hashable, Sendable {
    case initiated, connected, ended, failed
}
