/// Subscribers with frames to write once the loop has handled everything
/// it read in this turn. Lives on the service thread only.
///
/// Why not write each frame as it is made: with one `send()` per frame per
/// subscriber, the fan-out costs a system call per delivered frame, and
/// per-send cost is the ceiling (DESIGN.md "The hot path"). The inputs one
/// turn reads (several keep-alive requests, a batch of journal commits)
/// often change the same session several times; written at the end of the
/// turn, each subscriber's frames leave in one `send()`. The wait is one
/// turn of the loop, and under load it is what lets batching grow with the
/// load instead of the backlog.
///
/// The end of the turn is the loop's prepare watcher (`TurnEndWatcher`):
/// libev runs it after the last callback of a turn, just before it waits
/// again, so the writes cost no wake-up of their own (a self-wake through
/// `lws_cancel_service` costs a pipe write, a read and one more pass of the
/// loop per turn).
final class TurnWrites {
    private var pending: [WebSocketConnection] = []

    /// Whether any connection waits for the end of this turn.
    var hasPending: Bool { !pending.isEmpty }

    /// Writes `connection`'s queue at the end of this turn. The caller adds
    /// each connection at most once per turn (`WebSocketConnection.flushQueued`).
    func add(_ connection: WebSocketConnection) {
        pending.append(connection)
    }

    /// At the end of a turn (after every callback of it, `EVENT_WAIT_CANCELLED`'s
    /// finished commits included): writes every pending connection's frames.
    func run() {
        let due = pending
        pending = []
        for connection in due { connection.flush() }
    }
}
