import CLibWebSockets
import Hub

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One WebSocket subscriber. Lives on the service thread only.
///
/// Writes: frames for an idle connection (nothing queued, no writable
/// callback asked for) are written at the end of the loop's turn, all in one
/// `send()` (`TurnWrites`); everything else waits in `queue` for the
/// writable callback. See `deliver(_:)` for why.
///
/// Back-pressure: a peer that stops reading lets the queue grow; past
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
    /// Bytes conflated away since the queue was last empty.
    private var lagBytes = 0
    /// When the peer last sent anything (a message, a pong), ms.
    var lastHeardAt: Int64
    /// When the hub last pinged it, ms.
    private(set) var lastPingAt: Int64 = 0
    private var pingPending = false
    /// Set once the connection is to be closed; sent from the next writable callback.
    private(set) var pendingClose: (code: Int32, reason: String)?
    /// The close frame is out and the socket half-closed: what the peer
    /// still sends is read and dropped until it closes or the linger ends.
    private(set) var closeSent = false
    /// A writable callback has been asked for and not yet run.
    private var writableRequested = false
    /// Set by the first writable callback: from then on the handshake is
    /// out and the connection may be written outside the callback.
    private var directWrites = false
    /// A direct write failed; the connection is being closed.
    private var writeFailed = false
    /// Waiting in `turnWrites` for the end of this turn.
    private var flushQueued = false
    /// libwebsockets closed the connection; its `wsi` is gone.
    var isClosed = false
    private unowned let turnWrites: TurnWrites
    /// Set by the server while it handles a message from this peer. Its
    /// replies (`ack`, `pong`, `error`) then wait for the writable callback:
    /// a peer that floods gets cut (4029) with its queue dropped, and no
    /// reply `send()`s slow the reading of the rest of its messages.
    var receiving = false
    /// The message being reassembled from fragments.
    var rx: [UInt8] = []
    /// Error timestamps inside the last minute (`limits.maxErrorsPerMinute`).
    var recentErrors: [Int64] = []

    init(id: Int, wsi: OpaquePointer, sessionId: String?, identity: ClientIdentity, peer: String,
         sendQueueLimit: Int, openedAt: Int64, metrics: Metrics, messagesPerSecond: Int, turnWrites: TurnWrites) {
        self.turnWrites = turnWrites
        self.metrics = metrics
        self.messagesPerSecond = Double(messagesPerSecond)
        self.messageTokens = Double(messagesPerSecond)
        self.lastRefill = openedAt
        self.lastHeardAt = openedAt
        self.id = id
        self.wsi = wsi
        self.sessionId = sessionId
        self.identity = identity
        self.peer = peer
        self.sendQueueLimit = sendQueueLimit
        self.openedAt = openedAt
    }

    func deliver(_ frame: Frame) {
        guard pendingClose == nil, !writeFailed else { return }
        if queue.bytes > sendQueueLimit / 4 { conflate(before: frame) }
        queue.append(frame)
        if queue.bytes + lagBytes > sendQueueLimit {
            metrics.increment("switchboard_slow_consumer_closes_total")
            close(4008, "slow consumer: send queue over limits.sendQueueBytes", dropReplies: true)
            return
        }
        if flushQueued { return }
        if queue.count == 1, directWrites, !receiving, !writableRequested {
            // The common case of a subscriber that keeps up. Asking for a
            // writable callback would cost two `epoll_ctl` calls (arm, then
            // disarm POLLOUT) per frame: 10-15 % of the hub's CPU in a
            // 1,000-subscriber fan-out. Instead the frame waits for the end
            // of this turn, with any others the turn makes (`TurnWrites`).
            flushQueued = true
            turnWrites.add(self)
            return
        }
        requestWritable()
    }

    /// The end of the turn (`TurnWrites`): writes what was queued since, in
    /// one `send()`. A frame the socket cannot take whole is kept and
    /// finished by libwebsockets, which holds off further writable callbacks
    /// (and, through `lws_partial_buffered`, further writes from here) until
    /// it has drained; frames behind it wait for the writable callback, so
    /// order is kept. (HTTP/1.1 only: no HTTP/2 stream to interleave.)
    func flush() {
        flushQueued = false
        guard !isClosed, pendingClose == nil, !writeFailed, !writableRequested, !queue.isEmpty else { return }
        guard lws_partial_buffered(wsi) == 0 else {
            requestWritable()
            return
        }
        if (queue.count > 1 ? writeBatch() : writeFirst()) < 0 {
            // Outside a callback there is no -1 to return: close it from the loop.
            writeFailed = true
            queue.removeAll()
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
        }
    }

    private func requestWritable() {
        writableRequested = true
        lws_callback_on_writable(wsi)
    }

    /// A subscriber more than a quarter of `limits.sendQueueBytes` behind does
    /// not need every intermediate document (§3.2 conflation): each
    /// `state_change` carries the whole document and its quality, each
    /// `quality` frame the latest sample and aggregate. Unsent frames at the
    /// tail that the new one supersedes are dropped; versions then jump, never
    /// go back. Replies and presence stay. Subscribers that keep up get every
    /// frame exactly once.
    ///
    /// Dropped bytes still count against the budget until the queue drains
    /// (`lagBytes`), so a peer that never catches up is closed with 4008.
    private func conflate(before frame: Frame) {
        while let tail = queue.last {
            let superseded = (frame.kind == .state && (tail.kind == .state || tail.kind == .quality))
                || (frame.kind == .quality && tail.kind == .quality)
            guard superseded else { return }
            lagBytes += tail.count
            queue.removeLast()
            metrics.increment("switchboard_frames_conflated_total")
        }
    }

    /// Sends a ping at the next writable callback.
    func ping(at now: Int64) {
        lastPingAt = now
        pingPending = true
        requestWritable()
    }

    /// Seconds a closing connection lingers for the peer to read its close
    /// frame, and for a peer that stopped reading to become writable.
    static let lingerSeconds: Int32 = 2

    /// Schedules a close frame with `code`. Replies already owed (`ack`,
    /// `error`) are written first, so every message applied before the cut
    /// has its ack before the close frame; other frames are dropped (all of
    /// them when `dropReplies`, for a peer that does not read). A peer that
    /// never becomes writable again is cut after `lingerSeconds` regardless.
    func close(_ code: Int32, _ reason: String, dropReplies: Bool = false) {
        guard pendingClose == nil else { return }
        pendingClose = (code, reason)
        if dropReplies { queue.removeAll() } else { queue.keepOnly(.reply) }
        lagBytes = 0
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, WebSocketConnection.lingerSeconds)
        requestWritable()
    }

    /// Writes what is due. Returns -1 when libwebsockets must close the connection.
    func writable() -> Int32 {
        writableRequested = false
        directWrites = true
        if let close = pendingClose {
            if closeSent {
                if lws_partial_buffered(wsi) == 0 { halfClose() }
                return 0
            }
            if !queue.isEmpty {
                if (queue.count > 1 ? writeBatch() : writeFirst()) < 0 { return -1 }
                if !queue.isEmpty || lws_partial_buffered(wsi) != 0 { return 0 }
            }
            return sendClose(close.code, close.reason)
        }
        if pingPending {
            pingPending = false
            // A payload, because libwebsockets 4.1 reports a pong to us only
            // when it carries one (and a pong echoes its ping's payload).
            var buffer = [UInt8](repeating: 0, count: Int(CLibWebSockets_PRE)) + Array("sb-ping".utf8)
            let written = buffer.withUnsafeMutableBufferPointer { b in
                lws_write(wsi, b.baseAddress! + Int(CLibWebSockets_PRE), 7, LWS_WRITE_PING)
            }
            if written < 0 { return -1 }
            if !queue.isEmpty { requestWritable() }
            return 0
        }
        guard !queue.isEmpty else { return 0 }
        return queue.count > 1 ? writeBatch() : writeFirst()
    }

    /// Writes the close frame, then half-closes: the FIN follows the frame,
    /// and the connection keeps reading (and dropping) what the peer still
    /// sends until it closes or `lingerSeconds` pass. Closing at once would
    /// leave the peer's unread messages in the hub's receive buffer, and the
    /// kernel answers that with a reset, which can destroy the close frame
    /// before the peer reads it (RFC 6455 §7.1.1: the server closes the TCP
    /// connection after the close handshake).
    private func sendClose(_ code: Int32, _ reason: String) -> Int32 {
        // Framed here like `writeBatch` (libwebsockets keeps its close
        // writer to itself): FIN + opcode 8, unmasked, payload under 126 bytes.
        let pre = Int(CLibWebSockets_PRE)
        let reasonBytes = Array(reason.utf8.prefix(120))
        var frame = [UInt8](repeating: 0, count: pre)
        frame += [0x88, UInt8(2 + reasonBytes.count), UInt8(code >> 8 & 0xff), UInt8(code & 0xff)] + reasonBytes
        let count = frame.count - pre
        let written = frame.withUnsafeMutableBufferPointer { b in
            lws_write(wsi, b.baseAddress! + pre, count, LWS_WRITE_HTTP)
        }
        if written < 0 { return -1 }
        closeSent = true
        // After a short write libwebsockets still holds the tail; the FIN waits for the next pass.
        if lws_partial_buffered(wsi) == 0 { halfClose() } else { requestWritable() }
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WebSocketConnection.lingerSeconds)
        return 0
    }

    private var halfClosed = false

    private func halfClose() {
        guard !halfClosed else { return }
        halfClosed = true
        shutdown(lws_get_socket_fd(wsi), Int32(SHUT_WR))
    }

    /// Writes the first queued frame on its own.
    private func writeFirst() -> Int32 {
        guard let frame = queue.first else { return 0 }
        let payload = (frame.storage + frame.headroom).assumingMemoryBound(to: UInt8.self)
        // libwebsockets writes the frame header into the headroom in place;
        // every subscriber gets byte-identical headers, so sharing is safe.
        if lws_write(wsi, payload, frame.count, LWS_WRITE_TEXT) < frame.count { return -1 }
        writes.add()
        queue.removeFirst()
        sent(frame)
        return 0
    }

    /// Several frames waiting: frame them here (server frames are unmasked,
    /// no extensions are negotiated) into one buffer and hand it to
    /// libwebsockets as raw bytes, so one `send()` carries them all. Per-send
    /// cost is the fan-out ceiling (DESIGN.md "The hot path").
    private func writeBatch() -> Int32 {
        var frames: [Frame] = []
        var total = 0
        while let next = queue.first, frames.isEmpty || total + next.count + 10 <= WebSocketConnection.batchBytes {
            frames.append(next)
            total += next.count + WebSocketConnection.headerSize(next.count)
            queue.removeFirst()
        }
        let pre = Int(CLibWebSockets_PRE)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: pre + total, alignment: 1)
        defer { buffer.deallocate() }
        var at = buffer + pre
        for frame in frames {
            at += WebSocketConnection.writeHeader(length: frame.count, to: at)
            at.copyMemory(from: frame.storage + frame.headroom, byteCount: frame.count)
            at += frame.count
        }
        // A short write is buffered by libwebsockets, which holds off the
        // next writable callback until it has drained.
        if lws_write(wsi, (buffer + pre).assumingMemoryBound(to: UInt8.self), total, LWS_WRITE_HTTP) < 0 { return -1 }
        writes.add()
        for frame in frames { sent(frame) }
        return 0
    }

    private lazy var framesSent = metrics.counter("switchboard_frames_sent_total")
    private lazy var bytesSent = metrics.counter("switchboard_bytes_sent_total")
    private lazy var writes = metrics.counter("switchboard_ws_writes_total")

    private func sent(_ frame: Frame) {
        framesSent.add()
        bytesSent.add(Double(frame.count))
        if queue.isEmpty { lagBytes = 0 } else if !writableRequested { requestWritable() }
    }

    /// Largest pre-framed batch handed to one `lws_write`.
    static let batchBytes = 64 * 1024

    static func headerSize(_ length: Int) -> Int { length < 126 ? 2 : length < 65536 ? 4 : 10 }

    /// An unmasked, final text-frame header (RFC 6455 §5.2); returns its size.
    static func writeHeader(length: Int, to p: UnsafeMutableRawPointer) -> Int {
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        bytes[0] = 0x81
        if length < 126 {
            bytes[1] = UInt8(length)
            return 2
        }
        if length < 65536 {
            bytes[1] = 126
            bytes[2] = UInt8(length >> 8)
            bytes[3] = UInt8(length & 0xff)
            return 4
        }
        bytes[1] = 127
        for i in 0..<8 { bytes[2 + i] = UInt8((length >> ((7 - i) * 8)) & 0xff) }
        return 10
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
