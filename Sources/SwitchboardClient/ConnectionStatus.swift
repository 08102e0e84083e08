/// Where a `SwitchboardCall`'s link is: what `SwitchboardCall.statuses` yields.
/// `description` is one line a UI can show (`reconnecting in 850 ms because
/// the hub is restarting (1001)`).
public enum ConnectionStatus: Sendable, Equatable, CustomStringConvertible {
    /// Created, `start()` not called yet.
    case idle
    /// Opening a WebSocket (attempt counts the retries of this outage).
    case connecting(attempt: Int)
    /// Subscribed: frames flow, reports are sent at once.
    case open
    /// The link is down (`closeCode`: the close that ended it, nil when the
    /// attempt never opened) because of `cause`; the next attempt starts in `delayMs`.
    case reconnecting(attempt: Int, delayMs: Int, closeCode: Int?, cause: DisconnectCause)
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

    public var description: String {
        switch self {
        case .idle: return "idle"
        case .connecting(let attempt): return attempt > 0 ? "connecting (attempt \(attempt + 1))" : "connecting"
        case .open: return "open"
        case .reconnecting(_, let delayMs, let code, let cause):
            return "reconnecting in \(delayMs) ms because \(cause.description)" + (code.map { " (\($0))" } ?? "")
        case .closed: return "closed"
        case .failed(let code, let reason):
            return "stopped" + (reason.isEmpty ? "" : ": \(reason)") + (code.map { " (\($0))" } ?? "")
        }
    }
}

/// Why the link went down (`ConnectionStatus.reconnecting`).
public enum DisconnectCause: String, Sendable, Equatable, CustomStringConvertible {
    /// 1001: the hub is restarting (the first retry comes within `Backoff.drainRetryMs`).
    case draining
    /// An open connection ended without a reason the client knows (1006, …).
    case lost
    /// The attempt failed before the upgrade: nothing listens, or the network is down.
    case unreachable
    /// The hub refused the upgrade with an HTTP status (503 while draining, …).
    case refused
    /// No answer to a ping within the pong timeout (local close 4000).
    case silent
    /// No answer to the opening handshake within the open timeout.
    case openTimeout = "open-timeout"
    /// 4029 or an upgrade refused with 429.
    case rateLimited = "rate-limited"
    /// 4008: the client fell behind the hub's send queue.
    case slowConsumer = "slow-consumer"
    /// 4001 / 4004 / 401: a new token is asked for first.
    case token
    /// The token provider failed.
    case error

    public var description: String {
        switch self {
        case .draining: return "the hub is restarting"
        case .lost: return "the connection was lost"
        case .unreachable: return "the hub cannot be reached"
        case .refused: return "the hub refused the connection"
        case .silent: return "the hub stopped answering"
        case .openTimeout: return "the hub did not answer the handshake"
        case .rateLimited: return "the hub asked to slow down"
        case .slowConsumer: return "this client fell behind"
        case .token: return "a new token is needed"
        case .error: return "the token provider failed"
        }
    }

    /// The cause of a close with `code` on an open connection.
    static func of(closeCode code: Int) -> DisconnectCause {
        switch code {
        case 1001: return .draining
        case 4000: return .silent
        case 4029: return .rateLimited
        case 4008: return .slowConsumer
        case 4001, 4004: return .token
        default: return .lost
        }
    }
}
