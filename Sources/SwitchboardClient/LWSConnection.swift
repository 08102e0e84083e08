#if canImport(CLibWebSockets) && !canImport(Darwin)
import CLibWebSockets
import Foundation

/// One libwebsockets client connection with its own context and service thread.
///
/// Threading (the lock discipline behind `@unchecked Sendable`):
/// - Every lws call except `lws_cancel_service` runs on the service thread
///   (`serviceLoop` and the callbacks it triggers). Fields marked
///   "service thread" are only touched there.
/// - Fields marked "lock" are shared with the caller's threads (`send`,
///   `receive`, `close`) and only touched while holding `lock`.
/// - Other threads ask for work by changing locked state and calling
///   `lws_cancel_service`, which wakes the loop with
///   `LWS_CALLBACK_EVENT_WAIT_CANCELLED`; that callback asks lws for a
///   `CLIENT_WRITEABLE`, where the outbox is drained. `context` is cleared
///   under the lock before the context is destroyed, so a wake never touches
///   a dead context.
/// - The service thread's closure holds the connection strongly until the
///   loop ends, so the unretained pointer in the context's user field stays
///   valid for every callback.
final class LWSConnection: WebSocketConnection, @unchecked Sendable {
    let url: WebSocketURL
    let headers: [String: String]
    let connectTimeoutSeconds: Int
    let maxMessageBytes: Int

    private let lock = NSLock()
    // lock:
    private var context: OpaquePointer?
    private var outbox: [[UInt8]] = []
    private var closeRequest: (code: Int, reason: String)?
    private var inbox: [WebSocketMessage] = []
    private var receiver: CheckedContinuation<WebSocketMessage, any Error>?
    private var opener: CheckedContinuation<Void, any Error>?
    private var ended: WebSocketMessage?

    // service thread:
    /// lws writes the wsi here when it creates it and clears it when it destroys it.
    private let wsiSlot: UnsafeMutablePointer<OpaquePointer?>
    private var established = false
    private var finished = false
    private var rx: [UInt8] = []
    private var peerClose: (code: Int, reason: String)?
    private var localClose: (code: Int, reason: String)?

    init(url: WebSocketURL, headers: [String: String], connectTimeoutSeconds: Int, maxMessageBytes: Int) {
        self.url = url
        self.headers = headers
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.maxMessageBytes = maxMessageBytes
        wsiSlot = .allocate(capacity: 1)
        wsiSlot.initialize(to: nil)
    }

    deinit { wsiSlot.deallocate() }

    /// libwebsockets logs errors only (its default also prints notices to stderr).
    private static let quietLogs: Void = { lws_set_log_level(LLL_ERR, nil) }()

    // MARK: - Caller side

    /// Starts the service thread and returns once the upgrade succeeded.
    func open() async throws {
        _ = Self.quietLogs
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                lock.withLock { opener = continuation }
                let thread = Thread { [self] in serviceLoop() }
                thread.name = "switchboard-client-lws"
                thread.start()
            }
        } onCancel: {
            close(code: 1000, reason: "cancelled")
        }
    }

    func send(_ text: String) async throws {
        try lock.withLock {
            guard ended == nil, closeRequest == nil else {
                throw WebSocketTransportError(message: "connection is closed")
            }
            outbox.append(Array(text.utf8))
            if let context { lws_cancel_service(context) }
        }
    }

    func receive() async throws -> WebSocketMessage {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WebSocketMessage, any Error>) in
            lock.lock()
            if !inbox.isEmpty {
                let message = inbox.removeFirst()
                lock.unlock()
                continuation.resume(returning: message)
            } else if let ended {
                lock.unlock()
                continuation.resume(returning: ended)
            } else if receiver != nil {
                lock.unlock()
                continuation.resume(throwing: WebSocketTransportError(message: "receive() called concurrently"))
            } else {
                receiver = continuation
                lock.unlock()
            }
        }
    }

    func close(code: Int, reason: String) {
        lock.withLock {
            if closeRequest == nil, ended == nil { closeRequest = (code, reason) }
            if let context { lws_cancel_service(context) }
        }
    }

    // MARK: - Service thread

    private func serviceLoop() {
        let protocolName = strdup("switchboard-client")
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = switchboardClientCallback
        protocols[0].rx_buffer_size = 4096
        let address = strdup(url.host)
        let path = strdup(url.pathAndQuery)
        let host = strdup(url.hostHeader)
        defer {
            protocols.deallocate()
            free(protocolName)
            free(address)
            free(path)
            free(host)
        }

        var info = lws_context_creation_info()
        info.port = CLibWebSockets_noListenPort()
        info.protocols = UnsafePointer(protocols)
        info.options = CLibWebSockets_clientOptions(url.secure ? 1 : 0, 0)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.connect_timeout_secs = UInt32(max(1, connectTimeoutSeconds))
        info.timeout_secs = UInt32(max(1, connectTimeoutSeconds))
        guard let ctx = lws_create_context(&info) else {
            failOpen(WebSocketTransportError(message: "cannot create a libwebsockets context"))
            deliverEnd(code: 1006, reason: "no context")
            return
        }
        lock.withLock { context = ctx }

        var connect = lws_client_connect_info()
        connect.context = ctx
        connect.address = UnsafePointer(address)
        connect.port = Int32(url.port)
        connect.ssl_connection = url.secure ? CLibWebSockets_clientUseSSL() : 0
        connect.path = UnsafePointer(path)
        connect.host = UnsafePointer(host)
        connect.ietf_version_or_minus_one = -1
        connect.pwsi = wsiSlot
        if lws_client_connect_via_info(&connect) == nil {
            failOpen(WebSocketTransportError(message: "cannot connect to \(url.hostHeader)"))
            finished = true
        }
        while !finished {
            if lws_service(ctx, 0) < 0 { break }
        }
        lock.withLock { context = nil }
        lws_context_destroy(ctx)
        failOpen(WebSocketTransportError(message: "connection ended during the handshake"))
        deliverEnd(code: 1006, reason: "connection lost")
    }

    /// Resolves `open()` with a failure (no-op once resolved).
    private func failOpen(_ error: WebSocketTransportError) {
        let continuation = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
            defer { opener = nil }
            return opener
        }
        continuation?.resume(throwing: error)
    }

    private func deliver(_ message: WebSocketMessage) {
        lock.lock()
        if let receiver {
            self.receiver = nil
            lock.unlock()
            receiver.resume(returning: message)
        } else {
            inbox.append(message)
            lock.unlock()
        }
    }

    /// Records the end of the connection once; later `receive()` calls return it.
    private func deliverEnd(code: Int, reason: String) {
        lock.lock()
        guard ended == nil else { lock.unlock(); return }
        let message = WebSocketMessage.closed(code: code, reason: reason)
        ended = message
        outbox = []
        let waiting = receiver
        receiver = nil
        lock.unlock()
        waiting?.resume(returning: message)
    }

    func handle(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
            return appendHeaders(wsi, input, len)

        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            established = true
            let continuation = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
                defer { opener = nil }
                return opener
            }
            continuation?.resume()
            lws_callback_on_writable(wsi)  // flushes anything queued, or a close asked for meanwhile
            return 0

        case LWS_CALLBACK_CLIENT_RECEIVE:
            if let input, len > 0 {
                if rx.count + len > maxMessageBytes {
                    localClose = (1009, "message too big")
                    var text = Array("message too big".utf8)
                    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, &text, text.count)
                    return -1
                }
                rx.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
            }
            guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
            let bytes = rx
            rx = []
            deliver(.text(String(decoding: bytes, as: UTF8.self)))
            return 0

        case LWS_CALLBACK_CLIENT_WRITEABLE:
            return writable(wsi)

        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            // in/len: the close payload, a big-endian code then the reason.
            if let input, len >= 2 {
                let bytes = UnsafeRawBufferPointer(start: input, count: len)
                let code = Int(bytes[0]) << 8 | Int(bytes[1])
                peerClose = (code, String(decoding: bytes.dropFirst(2), as: UTF8.self))
            } else {
                peerClose = (1005, "")
            }
            return 0

        case LWS_CALLBACK_CLIENT_CLOSED:
            finished = true
            let end = peerClose ?? localClose ?? (1006, "connection lost")
            deliverEnd(code: end.code, reason: end.reason)
            return 0

        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            finished = true
            let status = Int(lws_http_client_http_response(wsi))
            let text = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? "connection failed"
            failOpen(WebSocketTransportError(httpStatus: status > 0 ? status : nil, message: text))
            deliverEnd(code: 1006, reason: text)
            return 0

        case LWS_CALLBACK_WSI_DESTROY:
            // lws clears the slot when it destroys our wsi; compare in either order.
            if wsiSlot.pointee == nil || wsiSlot.pointee == wsi { finished = true }
            return 0

        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            guard let ours = wsiSlot.pointee else { return 0 }
            let (work, closing) = lock.withLock { (!outbox.isEmpty, closeRequest != nil) }
            if established, work || closing {
                lws_callback_on_writable(ours)
            } else if !established, closing {
                lws_set_timeout(ours, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, LWS_TO_KILL_ASYNC)
            }
            return 0

        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    /// Sends one queued message per WRITEABLE (lws allows one write each),
    /// then the close frame once the outbox is empty.
    private func writable(_ wsi: OpaquePointer) -> Int32 {
        let (next, more, closing) = lock.withLock { () -> ([UInt8]?, Bool, (code: Int, reason: String)?) in
            let next = outbox.isEmpty ? nil : outbox.removeFirst()
            return (next, !outbox.isEmpty, closeRequest)
        }
        if let next {
            let pre = Int(CLibWebSockets_PRE)
            var buffer = [UInt8](repeating: 0, count: pre + next.count)
            buffer.replaceSubrange(pre..., with: next)
            let written = buffer.withUnsafeMutableBufferPointer { b in
                lws_write(wsi, b.baseAddress! + pre, next.count, LWS_WRITE_TEXT)
            }
            if written < next.count { return -1 }
            if more || closing != nil { lws_callback_on_writable(wsi) }
            return 0
        }
        if let closing {
            localClose = closing
            var text = Array(closing.reason.utf8.prefix(120))
            lws_close_reason(wsi, lws_close_status(rawValue: UInt32(closing.code)), &text, text.count)
            return -1
        }
        return 0
    }

    /// Adds the caller's headers (e.g. `Authorization`) to the upgrade request.
    private func appendHeaders(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        guard let input else { return 0 }
        let cursor = input.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
        guard let start = cursor.pointee else { return 0 }
        let end = start + len
        for (name, value) in headers {
            let key = name.lowercased() + ":"
            let added = key.withCString { k in
                value.withCString { v in
                    lws_add_http_header_by_name(wsi, UnsafeRawPointer(k).assumingMemoryBound(to: UInt8.self),
                                                UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self),
                                                Int32(value.utf8.count), cursor, end)
                }
            }
            if added != 0 { return -1 }
        }
        return 0
    }
}

/// The protocol callback: a top-level function so it can be `@convention(c)`;
/// it finds the connection through the context's user pointer.
func switchboardClientCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                               _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, len)
    }
    return Unmanaged<LWSConnection>.fromOpaque(owner).takeUnretainedValue().handle(wsi, reason, user, input, len)
}
#endif
