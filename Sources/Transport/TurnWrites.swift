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
/// The end of the turn is signalled with `lws_cancel_service`, the wake-up
/// the journal already uses: its `EVENT_WAIT_CANCELLED` comes on the next
/// pass of the loop, after the events of this one. One wake per turn, not
/// per frame.
final class TurnWrites {
    private var pending: [WebSocketConnection] = []
    private var wakeRequested = false
    private let wake: () -> Void

    /// - Parameter wake: makes the loop deliver `EVENT_WAIT_CANCELLED` soon.
    init(wake: @escaping () -> Void) {
        self.wake = wake
    }

    /// Writes `connection`'s queue at the end of this turn. The caller adds
    /// each connection at most once per turn (`WebSocketConnection.flushQueued`).
    func add(_ connection: WebSocketConnection) {
        if !wakeRequested {
            wakeRequested = true
            wake()
        }
        pending.append(connection)
    }

    /// From `EVENT_WAIT_CANCELLED`: runs `work` (which may queue more frames:
    /// finished commits), then writes every pending connection's frames.
    /// Connections added meanwhile need no further wake-up.
    func run(after work: () -> Void) {
        wakeRequested = true
        work()
        let due = pending
        pending = []
        wakeRequested = false
        for connection in due { connection.flush() }
    }
}
