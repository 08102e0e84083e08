/// Where a `SwitchboardCall`'s link is: what `SwitchboardCall.statuses` yields.
public enum ConnectionStatus: Sendable, Equatable {
    /// Created, `start()` not called yet.
    case idle
    /// Opening a WebSocket (attempt counts since the last stable connection).
    case connecting(attempt: Int)
    /// Subscribed: frames flow, reports are sent at once.
    case open
    /// The link dropped (`closeCode`, nil when the upgrade itself failed) and
    /// the next attempt starts in `delayMs`.
    case reconnecting(attempt: Int, delayMs: Int, closeCode: Int?)
    /// Stopped by `close()` or a 1000 from the hub.
    case closed
    /// Stopped because retrying cannot help: close 4003 / 4400 / 1009, an
    /// upgrade refused with 400 / 403 / 404, or no token to retry with.
    case failed(code: Int?, reason: String)

    /// True for `closed` and `failed`: the call will not reconnect.
    public var isStopped: Bool {
        switch self {
        case .closed, .failed: return true
        default: return false
        }
    }
}
