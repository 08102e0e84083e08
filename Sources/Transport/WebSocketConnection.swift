import CLibWebSockets
import Hub

/// One WebSocket subscriber. Lives on the service thread only.
///
/// Back-pressure: frames wait in `queue` until libwebsockets says the socket
/// is writable. A peer that stops reading lets the queue grow; past
/// `limits.sendQueueBytes` it is closed with 4008 (§3.4) and its queue is
/// dropped, so one slow reader never holds memory or slows the fan-out to
/// the others.
final class WebSocketConnection: Subscriber {
    let id: Int
    let wsi: OpaquePointer
    /// `nil` for a `/ws/dashboard` connection.
    let sessionId: String?
    /// Replaced when the client refreshes its token with an `auth` message.
    var identity: ClientIdentity
    /// Whether `token_expiring` was sent for the current token.
    var warnedExpiry = false
    /// Token bucket for `limits.messagesPerSecond`.
    private var messageTokens: Double
    private var lastRefill: Int64
    private let messagesPerSecond: Double
    let peer: String
    let openedAt: Int64
    private let sendQueueLimit: Int
    private let metrics: Metrics
    private(set) var queue = FrameQueue()
    /// Set once the connection is to be closed; sent from the next writable callback.
    private(set) var pendingClose: (code: Int32, reason: String)?
    /// The message being reassembled from fragments.
    var rx: [UInt8] = []
    /// Error timestamps inside the last minute (`limits.maxErrorsPerMinute`).
    var recentErrors: [Int64] = []

    init(id: Int, wsi: OpaquePointer, sessionId: String?, identity: ClientIdentity, peer: String,
         sendQueueLimit: Int, openedAt: Int64, metrics: Metrics, messagesPerSecond: Int) {
        self.metrics = metrics
        self.messagesPerSecond = Double(messagesPerSecond)
        self.messageTokens = Double(messagesPerSecond)
        self.lastRefill = openedAt
        self.id = id
        self.wsi = wsi
        self.sessionId = sessionId
        self.identity = identity
        self.peer = peer
        self.sendQueueLimit = sendQueueLimit
        self.openedAt = openedAt
    }

    func deliver(_ frame: Frame) {
        guard pendingClose == nil else { return }
        queue.append(frame)
        if queue.bytes > sendQueueLimit {
            metrics.increment("switchboard_slow_consumer_closes_total")
            close(4008, "slow consumer: send queue over limits.sendQueueBytes")
            return
        }
        lws_callback_on_writable(wsi)
    }

    /// Schedules a close frame with `code`. A peer that never becomes writable
    /// again (it stopped reading) is cut after two seconds regardless.
    func close(_ code: Int32, _ reason: String) {
        guard pendingClose == nil else { return }
        pendingClose = (code, reason)
        queue.removeAll()
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 2)
        lws_callback_on_writable(wsi)
    }

    /// Writes what is due. Returns -1 when libwebsockets must close the connection.
    func writable() -> Int32 {
        if let close = pendingClose {
            var reason = Array(close.reason.utf8.prefix(120))
            lws_close_reason(wsi, lws_close_status(rawValue: UInt32(close.code)), &reason, reason.count)
            return -1
        }
        guard let frame = queue.first else { return 0 }
        let payload = (frame.storage + frame.headroom).assumingMemoryBound(to: UInt8.self)
        // libwebsockets writes the frame header into the headroom in place;
        // every subscriber gets byte-identical headers, so sharing is safe.
        if lws_write(wsi, payload, frame.count, LWS_WRITE_TEXT) < frame.count { return -1 }
        queue.removeFirst()
        metrics.increment("switchboard_frames_sent_total")
        metrics.increment("switchboard_bytes_sent_total", by: Double(frame.count))
        if !queue.isEmpty { lws_callback_on_writable(wsi) }
        return 0
    }

    /// Takes one message from the bucket (burst = one second's worth).
    func takeMessageToken(now: Int64) -> Bool {
        messageTokens = min(messagesPerSecond, messageTokens + Double(now - lastRefill) * messagesPerSecond / 1000)
        lastRefill = now
        guard messageTokens >= 1 else { return false }
        messageTokens -= 1
        return true
    }

    /// Records one protocol error; true when the connection passed its budget.
    func countError(now: Int64, limit: Int) -> Bool {
        recentErrors.removeAll { now - $0 >= 60_000 }
        recentErrors.append(now)
        return recentErrors.count > limit
    }
}
