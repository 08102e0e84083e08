import Auth
import CLibWebSockets
import CallState
import Hub
import Logging
import Providers
import Store
import Synchronization

/// The hub's network face: one libwebsockets context, one service thread.
///
/// Everything that touches a connection or a session runs inside
/// `handle(...)`, called by libwebsockets on the thread that called `run()`.
/// Other threads talk to it only through `requestShutdown()`, which flips an
/// atomic and wakes the loop with `lws_cancel_service` (DESIGN.md "Threading").
public final class Server: @unchecked Sendable {
    public let config: HubConfig
    let logger: Logger
    let hub: Hub
    let router: APIRouter
    let staticFiles: StaticFiles

    // libwebsockets-owned memory that must outlive the context.
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let protocolName: UnsafeMutablePointer<CChar>
    private let retryPolicy: UnsafeMutablePointer<lws_retry_bo_t>
    private let tick: UnsafeMutablePointer<CLibWebSockets_timer>
    private var context: OpaquePointer?

    private var nextId = 1
    var sockets: [Int: WebSocketConnection] = [:]
    var exchanges: [Int: HTTPExchange] = [:]
    /// Peer address per HTTP connection (see `httpPeer`), so `getpeername`
    /// runs once per connection, not once per keep-alive request.
    private var httpPeers: [Int: String] = [:]
    /// Upgrades that passed the handshake checks, waiting for ESTABLISHED.
    private var admitted: [Int: (identity: ClientIdentity, address: String)] = [:]
    /// Open WebSockets per client address (`limits.maxConnectionsPerIp`).
    private var connectionsByAddress: [String: Int] = [:]

    /// Subscribers to write at the end of this turn of the loop.
    private var turnWrites: TurnWrites!
    private let shutdownRequested = Atomic<Bool>(false)
    private var drainDeadline: Int64?
    private var finished = false
    private var lastKeepalive: Int64 = 0
    /// Whether libev runs the loop: `lws_service` then returns only once the
    /// context is being destroyed.
    private var usingEventLibrary = false
    private var loopStopping = false

    /// The port actually bound (differs from the config when it asked for 0).
    public private(set) var port = 0

    /// How often timed work runs: syncStatus flips, drain progress.
    static let tickMicroseconds: Int64 = 100_000

    /// - Throws: `KeyError` when an `auth.*` key cannot be used.
    public init(config: HubConfig, logger: Logger) throws(KeyError) {
        self.config = config
        self.logger = logger
        self.hub = try Hub(config: config, frameHeadroom: LWS.pre, logger: logger)
        self.router = APIRouter(hub: hub)
        self.staticFiles = StaticFiles(directory: config.publicDir)

        protocolName = strdup("switchboard.v1")
        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = switchboardCallback
        protocols[0].per_session_data_size = MemoryLayout<Int>.size
        // Small receive buffer: it is allocated per connection; larger
        // messages arrive in fragments and are reassembled up to the limit.
        protocols[0].rx_buffer_size = 4096

        // Zero disables libwebsockets' own validity timers: it re-arms one per
        // connection on activity with a linear insert into a sorted list,
        // O(connections) per request (BENCHMARKS.md). Keepalive is the hub's
        // own, one scan every 200 ms (`keepalive(now:)`).
        retryPolicy = .allocate(capacity: 1)
        retryPolicy.initialize(to: lws_retry_bo_t())

        tick = .allocate(capacity: 1)
        tick.initialize(to: CLibWebSockets_timer())

        turnWrites = TurnWrites { [unowned self] in
            if let context { lws_cancel_service(context) }
        }
        hub.deliverResponse = { [unowned self] id, response in
            guard let exchange = exchanges[id] else { return }
            // Answered outside the connection's own callback: a failed write
            // cannot be returned to libwebsockets, so the connection is cut.
            if respond(exchange.wsi, exchange, response) != 0 {
                lws_set_timeout(exchange.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            }
        }
        hub.transportGauges = { [unowned self] in
            let dashboards = Double(sockets.values.filter { $0.sessionId == nil }.count)
            return [("switchboard_connections", [("endpoint", "calls")], Double(sockets.count) - dashboards),
                    ("switchboard_connections", [("endpoint", "dashboard")], dashboards),
                    ("switchboard_http_connections", [], Double(httpPeers.count))]
        }
    }

    deinit {
        if let context { lws_context_destroy(context) }
        protocols.deallocate()
        free(protocolName)
        retryPolicy.deallocate()
        tick.deallocate()
    }

    /// Creates the context and binds the listener.
    /// - Returns: the bound port.
    public func start() throws -> Int {
        lws_set_log_level(LLL_ERR, nil)
        var info = lws_context_creation_info()
        info.port = Int32(config.server.port)
        let host = config.server.host
        let iface: UnsafeMutablePointer<CChar>? = (host == "0.0.0.0" || host == "::" || host.isEmpty) ? nil : strdup(host)
        defer { free(iface) }
        info.iface = UnsafePointer(iface)
        info.protocols = UnsafePointer(protocols)
        info.options = CLibWebSockets_serverOptions(host.contains(":") ? 0 : 1, 1)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.retry_and_idle_policy = UnsafePointer(retryPolicy)
        info.max_http_header_data = 8192
        info.timeout_secs = 30
        info.alpn = UnsafePointer(strdup("http/1.1"))  // HTTP/2 stays off (§5, DESIGN.md)
        // libev's epoll loop (Debian's libwebsockets-evlib-ev plugin): the
        // default poll() walks every socket on every turn of the loop, which
        // dominates CPU with thousands of connections (BENCHMARKS.md).
        var created = lws_create_context(&info)
        usingEventLibrary = created != nil
        if created == nil {
            logger.warning("libev event loop unavailable, falling back to poll()")
            info.options = CLibWebSockets_serverOptions(host.contains(":") ? 0 : 1, 0)
            created = lws_create_context(&info)
        }
        guard let ctx = created else {
            throw StartError(message: "cannot listen on \(host):\(config.server.port)")
        }
        context = ctx
        port = Int(lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default")))
        try openJournal(context: ctx)
        tick.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        scheduleTick()
        return port
    }

    /// Opens the journal (`store.kind` sqlite), replays it into the hub, and
    /// starts the writer thread, whose commits wake this loop.
    private func openJournal(context: OpaquePointer) throws {
        guard config.store.kind == "sqlite" else { return }
        let path = config.store.path ?? config.dataDir + "/switchboard.db"
        let store: SQLiteJournal
        do {
            let key = try config.store.encryptionKey.map { text throws(StoreError) in try SQLiteJournal.parseKey(text) }
            store = try SQLiteJournal(path: path, encryptionKey: key, checkpointIntervalMs: config.store.checkpointIntervalMs)
            let entries = try store.loadAll()
            try hub.restore(snapshots: store.loadSnapshots(), entries: entries)
            logger.info("journal opened", metadata: ["path": "\(path)", "entries": "\(entries.count)", "sessions": "\(hub.sessionCount)"])
        } catch {
            throw StartError(message: "store: \(error.message)")
        }
        // The context is alive as long as the writer: closed after the loop ends.
        let wake = ContextWaker(context: context)
        hub.journal = JournalWriter(store: store) { wake.wake() }
    }

    /// Runs the service loop until a requested shutdown has drained.
    public func run() {
        guard let context else { return }
        while !finished {
            if lws_service(context, 0) < 0 { break }
        }
        // Everything acknowledged is already committed; this flushes the rest
        // (already done before the loop stopped when libev runs it).
        hub.journal?.close()
        // With libev this second call completes what `stopLoop` started.
        lws_context_destroy(context)
        self.context = nil
        logger.info("stopped")
    }

    /// Asks for a graceful shutdown (§3.4 1001, PROTOCOL.md drain). Safe from any thread.
    public func requestShutdown() {
        shutdownRequested.store(true, ordering: .releasing)
        if let context { lws_cancel_service(context) }
    }

    // MARK: - Timers and drain

    private func scheduleTick() {
        guard let context else { return }
        lws_sul_schedule(context, 0, &tick.pointee.sul, switchboardTick, Self.tickMicroseconds)
    }

    func onTick() {
        let now = WallClock.nowMs()
        hub.runTimers(now: now)
        // Often enough that a peer gets its ping well before the timeout even
        // with keepalive.timeoutSec = 2 × pingSec; a pass is a few µs per 1,000 connections.
        if now - lastKeepalive >= 200 {
            lastKeepalive = now
            keepalive(now: now)
        }
        checkDrain(now: now)
        if finished {
            stopLoopIfFinished()
        } else {
            scheduleTick()
        }
    }

    /// Pings every connection quiet for `keepalive.pingSec`; drops one that
    /// has sent nothing (not even a pong) for `keepalive.timeoutSec`.
    private func keepalive(now: Int64) {
        let pingMs = Int64(config.keepalive.pingSec) * 1000
        let timeoutMs = Int64(config.keepalive.timeoutSec) * 1000
        for socket in sockets.values {
            if now - socket.lastHeardAt >= timeoutMs {
                logger.info("dropping silent peer", metadata: ["conn": "\(socket.id)"])
                lws_set_timeout(socket.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            } else if now - max(socket.lastHeardAt, socket.lastPingAt) >= pingMs {
                socket.ping(at: now)
            }
        }
    }

    private func beginDrainIfRequested() {
        guard shutdownRequested.load(ordering: .acquiring), !hub.draining else { return }
        hub.beginDrain()
        drainDeadline = WallClock.nowMs() + Int64(config.shutdown.drainSec) * 1000
        logger.info("draining", metadata: ["websockets": "\(sockets.count)", "http": "\(exchanges.count)"])
        for socket in sockets.values { socket.close(1001, "hub shutting down") }
        checkDrain(now: WallClock.nowMs())
    }

    private func checkDrain(now: Int64) {
        guard let deadline = drainDeadline, !finished else { return }
        if (sockets.isEmpty && exchanges.isEmpty) || now >= deadline {
            finished = true
            if let context { lws_cancel_service(context) }
        }
    }

    /// Ends the loop once drained. With poll(), `lws_service` returns after
    /// each turn and `run` sees `finished`. With libev it returns only when
    /// the context starts its destruction, which is how the libwebsockets
    /// event-library examples stop: called from a loop callback (the timer),
    /// never a connection's. The journal is flushed first, while the wake-up
    /// it may send still has a live context.
    private func stopLoopIfFinished() {
        guard finished, usingEventLibrary, !loopStopping, let context else { return }
        loopStopping = true
        hub.journal?.close()
        lws_context_destroy(context)
    }

    // MARK: - Callback dispatch

    func handle(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        let slot = user?.assumingMemoryBound(to: Int.self)
        switch reason {
        case LWS_CALLBACK_HTTP:
            return httpRequest(wsi, slot, path: string(input, len))
        case LWS_CALLBACK_HTTP_BODY:
            return httpBody(slot, input, len)
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return httpBodyDone(wsi, slot)
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return httpWritable(wsi, slot)
        case LWS_CALLBACK_HTTP_FILE_COMPLETION:
            if let slot { finishExchange(slot) }
            return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
        case LWS_CALLBACK_CLOSED_HTTP:
            if let slot { finishExchange(slot) }
            return 0
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return filterUpgrade(wsi, slot)
        case LWS_CALLBACK_TIMER:
            guard let slot, let socket = sockets[slot.pointee] else { return 0 }
            return tokenTimer(socket)
        case LWS_CALLBACK_ESTABLISHED:
            return established(wsi, slot)
        case LWS_CALLBACK_RECEIVE:
            return receive(wsi, slot, input, len)
        case LWS_CALLBACK_RECEIVE_PONG:
            if let slot, let socket = sockets[slot.pointee] {
                socket.lastHeardAt = WallClock.nowMs()
            }
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            guard let slot, let socket = sockets[slot.pointee] else { return 0 }
            return socket.writable()
        case LWS_CALLBACK_CLOSED:
            if let slot { closed(slot) }
            return 0
        case LWS_CALLBACK_WSI_DESTROY:
            // An upgrade admitted by the filter but never established.
            if let slot, slot.pointee != 0 { admitted[slot.pointee] = nil }
            // Any connection that carried a request (see `httpPeer`).
            if let key = lws_get_opaque_user_data(wsi) { httpPeers[Int(bitPattern: key)] = nil }
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            turnWrites.run {
                hub.processCommitted()
                beginDrainIfRequested()
            }
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    /// The callback's `in` as text. A decoded NUL inside (`%00`) would silently
    /// truncate a C string, so such input comes back as nil and is refused.
    func string(_ input: UnsafeMutableRawPointer?, _ len: Int) -> String? {
        guard let input else { return "" }
        let bytes = UnsafeRawBufferPointer(start: input, count: len)
        if bytes.contains(0) { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    func allocateId() -> Int {
        defer { nextId += 1 }
        return nextId
    }

    // MARK: - HTTP

    private func httpRequest(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?, path: String?) -> Int32 {
        guard let slot else { return -1 }
        let query = LWS.queryArguments(wsi)
        let headers = LWS.requestHeaders(wsi)
        let request = HTTPRequest(method: LWS.method(wsi), path: path ?? "",
                                  query: Dictionary(query, uniquingKeysWith: { first, _ in first }),
                                  rawQuery: query.isEmpty ? nil : query.map { $0.0 + "=" + $0.1 }.joined(separator: "&"),
                                  headers: headers, peer: hub.clientAddress(peer: httpPeer(wsi), headers: headers))
        let id = allocateId()
        let exchange = HTTPExchange(id: id, wsi: wsi, request: request)
        slot.pointee = id
        exchanges[id] = exchange
        guard path != nil else {
            return respond(wsi, exchange, .error(400, "bad_request", "NUL byte in path"))
        }

        if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            let limit = path == WebhookRoute.elevenlabs.path ? config.limits.maxAudioBodyBytes : config.limits.maxBodyBytes
            if let length = request.headers["content-length"].flatMap({ Int($0) }), length > limit {
                // Refuse before reading: the body is never buffered.
                logger.notice("rejected request", metadata: ["status": "413", "path": "\(request.path)", "peer": "\(request.peer)"])
                return respond(wsi, exchange, .error(413, "body_too_large", "body over limits.maxBodyBytes (\(config.limits.maxBodyBytes))"))
            }
            return 0  // wait for HTTP_BODY / HTTP_BODY_COMPLETION
        }
        return dispatch(wsi, exchange)
    }

    private func httpBody(_ slot: UnsafeMutablePointer<Int>?, _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        guard let slot, let exchange = exchanges[slot.pointee], let input else { return 0 }
        if exchange.overflowed { return 0 }
        let chunk = UnsafeRawBufferPointer(start: input, count: len)
        if exchange.audio != nil || exchange.streamError != nil {
            return streamBody(exchange, chunk)
        }
        if exchange.request.body.count + len > config.limits.maxBodyBytes,
           exchange.request.path == WebhookRoute.elevenlabs.path {
            // Too large to buffer: verify and scan it as it streams from here on.
            do {
                exchange.audio = try ElevenLabsAudioStream(secrets: config.providerSecrets,
                                                           headers: exchange.request.headers, now: WallClock.nowMs())
            } catch {
                exchange.streamError = error
            }
            let buffered = exchange.request.body
            exchange.request.body = []
            buffered.withUnsafeBytes { _ = streamBody(exchange, $0) }
            return streamBody(exchange, chunk)
        }
        if exchange.request.body.count + len > config.limits.maxBodyBytes {
            exchange.overflowed = true
            exchange.request.body = []
            return 0
        }
        exchange.request.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
        return 0
    }

    /// Feeds a streamed body; past `limits.maxAudioBodyBytes` the rest is discarded (413).
    private func streamBody(_ exchange: HTTPExchange, _ chunk: UnsafeRawBufferPointer) -> Int32 {
        exchange.streamedBytes += chunk.count
        if exchange.streamedBytes > config.limits.maxAudioBodyBytes {
            exchange.overflowed = true
            exchange.audio = nil
            return 0
        }
        exchange.audio?.feed(chunk)
        return 0
    }

    private func httpBodyDone(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        guard let slot, let exchange = exchanges[slot.pointee] else { return -1 }
        if !exchange.overflowed, exchange.audio != nil || exchange.streamError != nil {
            let now = WallClock.nowMs()
            let verified: Result<WebhookResult, WebhookError>
            if let audio = exchange.audio {
                verified = Result { () throws(WebhookError) in try audio.finish(query: exchange.request.query, now: now) }
            } else {
                verified = .failure(exchange.streamError ?? .badRequest("unreadable body"))
            }
            exchange.audio = nil
            let id = exchange.id
            let response = hub.applyWebhook(.elevenlabs, verified, now: now) { [unowned self] in
                hub.deliverResponse(id, $0)
            }
            return response == HTTPResponse.accepted ? 0 : respond(wsi, exchange, response)
        }
        if exchange.overflowed {
            return respond(wsi, exchange, .error(413, "body_too_large", "body over limits.maxBodyBytes (\(config.limits.maxBodyBytes))"))
        }
        return dispatch(wsi, exchange)
    }

    private func dispatch(_ wsi: OpaquePointer, _ exchange: HTTPExchange) -> Int32 {
        let request = exchange.request
        switch router.route(request, exchangeId: exchange.id) {
        case .pending?:
            return 0
        case .response(let response)?:
            if response.status >= 400 {
                logger.notice("rejected request", metadata: [
                    "status": "\(response.status)", "method": "\(request.method)", "path": "\(request.path)",
                    "peer": "\(request.peer)",
                ])
            }
            return respond(wsi, exchange, response)
        case nil:
            break
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return respond(wsi, exchange, .error(405, "method_not_allowed", "static files accept GET", headers: [("Allow", "GET")]))
        }
        guard let file = staticFiles.resolve(request.path) else {
            logger.notice("rejected request", metadata: ["status": "404", "path": "\(request.path)", "peer": "\(request.peer)"])
            return respond(wsi, exchange, .error(404, "not_found", "no such file"))
        }
        let headers = "cache-control: no-cache\r\n"
        let n = lws_serve_http_file(wsi, file, StaticFiles.contentType(file), headers, Int32(headers.utf8.count))
        // < 0: error, close; > 0: finished, transaction completed; 0: in progress.
        if n < 0 { return -1 }
        if n > 0 { return lws_http_transaction_completed(wsi) != 0 ? -1 : 0 }
        return 0
    }

    /// Writes the response at once rather than on the next writable
    /// callback: a small HTTP/1.1 reply fits the socket buffer, libwebsockets
    /// keeps and finishes any short write itself, and every extra turn of the
    /// loop is a `poll()` over every socket.
    private func respond(_ wsi: OpaquePointer, _ exchange: HTTPExchange, _ response: HTTPResponse) -> Int32 {
        exchange.response = response
        guard let user = lws_wsi_user(wsi) else {
            lws_callback_on_writable(wsi)
            return 0
        }
        return httpWritable(wsi, user.assumingMemoryBound(to: Int.self))
    }

    private func httpWritable(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        guard let slot, let exchange = exchanges[slot.pointee], let response = exchange.response else { return 0 }
        finishExchange(slot)
        let bytes = HTTPResponseBytes(status: response.status, contentType: response.contentType ?? "text/plain",
                                      headers: response.headers,
                                      body: exchange.request.method == "HEAD" ? [] : response.body)
        guard LWS.writeResponse(wsi, bytes) else { return -1 }
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    /// The connection's peer address, read on its first request. The key
    /// lives in the connection's opaque user data, which (unlike the
    /// per-session data) lasts from accept to close and starts out nil; a
    /// fresh id per connection means a missed clean-up can leak an entry but
    /// never hand one connection's address to another.
    private func httpPeer(_ wsi: OpaquePointer) -> String {
        if let key = lws_get_opaque_user_data(wsi), let known = httpPeers[Int(bitPattern: key)] { return known }
        let peer = LWS.peer(wsi)
        let id = allocateId()
        lws_set_opaque_user_data(wsi, UnsafeMutableRawPointer(bitPattern: id))
        httpPeers[id] = peer
        return peer
    }

    private func finishExchange(_ slot: UnsafeMutablePointer<Int>) {
        if exchanges.removeValue(forKey: slot.pointee)?.response == nil { hub.cancelPending(slot.pointee) }
        slot.pointee = 0
        if hub.draining { checkDrain(now: WallClock.nowMs()) }
    }

    // MARK: - WebSocket

    /// Upgrade checks, answered with a real HTTP status before any 101:
    /// draining (503), path and session id (404/400), Origin (403), the
    /// per-address cap (429), the token (401) and what it grants (403).
    private func filterUpgrade(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        let path = LWS.header(wsi, WSI_TOKEN_GET_URI) ?? ""
        let headers = LWS.requestHeaders(wsi)
        let query = Dictionary(LWS.queryArguments(wsi), uniquingKeysWith: { first, _ in first })
        let address = hub.clientAddress(peer: LWS.peer(wsi), headers: headers)
        let now = WallClock.nowMs()
        var identity: ClientIdentity?
        let refusal: HTTPResponse? = {
            if hub.draining { return .error(503, "draining", "hub is shutting down", headers: [("Retry-After", "5")]) }
            let sessionId = Server.sessionId(inPath: path)
            guard sessionId != nil || path == "/ws/dashboard" else {
                return .error(404, "not_found", "no WebSocket endpoint at \(path)")
            }
            if let sessionId, !SessionID.isValid(sessionId) {
                return .error(400, "invalid_session_id", "session id must be 1-128 of [A-Za-z0-9._:-]")
            }
            if let origin = headers["origin"], !originAllowed(origin, host: headers["host"]) {
                return .error(403, "origin_not_allowed", "origin \(origin) is not in security.allowedOrigins")
            }
            if connectionsByAddress[address, default: 0] >= config.limits.maxConnectionsPerIp {
                return .error(429, "too_many_connections", "limits.maxConnectionsPerIp reached", headers: [("Retry-After", "10")])
            }
            do { identity = try hub.authenticate(headers: headers, query: query, now: now) } catch let error as AuthError {
                return .error(error.httpStatus, error.code, error.message,
                              headers: error.httpStatus == 401 ? [("WWW-Authenticate", "Bearer")] : [])
            } catch {
                return .error(401, "invalid_token", "\(error)")
            }
            if let sessionId, identity?.canRead(sessionId) != true {
                return .error(403, "forbidden", "token does not grant session \(sessionId)")
            }
            if sessionId == nil, identity?.role.canWatchDashboard != true {
                return .error(403, "forbidden", "/ws/dashboard needs role dashboard")
            }
            return nil
        }()
        if let refusal {
            // The path only: query strings may carry tokens and are never logged.
            logger.notice("rejected upgrade", metadata: ["status": "\(refusal.status)", "path": "\(path)", "peer": "\(address)"])
            _ = LWS.writeResponse(wsi, HTTPResponseBytes(status: refusal.status, contentType: refusal.contentType ?? "text/plain",
                                                         headers: refusal.headers, body: refusal.body))
            return 1
        }
        guard let slot, let identity else { return 1 }
        let id = allocateId()
        slot.pointee = id
        admitted[id] = (identity, address)
        return 0
    }

    /// Exact match against `security.allowedOrigins`; with an empty list only
    /// the page's own host may connect from a browser (§5).
    func originAllowed(_ origin: String, host: String?) -> Bool {
        if config.security.allowedOrigins.contains(origin) { return true }
        guard config.security.allowedOrigins.isEmpty, let host else { return false }
        return origin == "http://" + host || origin == "https://" + host
    }

    /// `/ws/calls/{sessionId}` → the id (unvalidated), else nil.
    static func sessionId(inPath path: String) -> String? {
        let prefix = "/ws/calls/"
        guard path.hasPrefix(prefix) else { return nil }
        return String(path.dropFirst(prefix.count))
    }

    private func established(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        guard let slot else { return -1 }
        let path = LWS.header(wsi, WSI_TOKEN_GET_URI) ?? ""
        let sessionId = Server.sessionId(inPath: path)
        guard sessionId != nil || path == "/ws/dashboard" else { return -1 }
        let args = Dictionary(LWS.queryArguments(wsi), uniquingKeysWith: { first, _ in first })
        let id = slot.pointee
        guard let admission = admitted.removeValue(forKey: id) else { return -1 }
        let now = WallClock.nowMs()
        let socket = WebSocketConnection(id: id, wsi: wsi, sessionId: sessionId, identity: admission.identity,
                                         peer: admission.address, sendQueueLimit: config.limits.sendQueueBytes,
                                         openedAt: now, metrics: hub.metrics,
                                         messagesPerSecond: config.limits.messagesPerSecond,
                                         turnWrites: turnWrites)
        sockets[id] = socket
        connectionsByAddress[admission.address, default: 0] += 1
        armTokenTimer(socket, now: now)
        logger.info("ws open", metadata: ["conn": "\(id)", "session": "\(sessionId ?? "(dashboard)")", "peer": "\(socket.peer)"])
        guard let sessionId else {
            hub.subscribeDashboard(socket)
            return 0
        }
        var resume: (epoch: String, since: Int64)?
        if let epoch = args["epoch"], let since = args["since"].flatMap({ Int64($0) }) { resume = (epoch, since) }
        hub.subscribe(socket, to: sessionId, identity: socket.identity, resume: resume, now: now)
        return 0
    }

    private func receive(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?,
                         _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        guard let slot, let socket = sockets[slot.pointee] else { return -1 }
        socket.lastHeardAt = WallClock.nowMs()
        socket.receiving = true
        defer { socket.receiving = false }
        if let input, len > 0 {
            if socket.rx.count + len > config.limits.maxMessageBytes {
                var reason = Array("message over limits.maxMessageBytes".utf8)
                lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, &reason, reason.count)
                logger.notice("closing oversize message", metadata: ["conn": "\(socket.id)"])
                return -1
            }
            socket.rx.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
        }
        guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return 0 }
        let message = socket.rx
        socket.rx = []
        let now = WallClock.nowMs()
        if !socket.takeMessageToken(now: now) {
            socket.close(4029, "over limits.messagesPerSecond")
            return 0
        }
        let result = hub.handleMessage(message, sessionId: socket.sessionId, identity: socket.identity, now: now) {
            [weak socket] frame in socket?.deliver(frame)
        }
        for reply in result.replies { socket.deliver(reply) }
        if let refreshed = result.refreshed {
            socket.identity = refreshed
            armTokenTimer(socket, now: now)
        }
        if result.isError, socket.countError(now: now, limit: config.limits.maxErrorsPerMinute) {
            socket.close(4400, "too many protocol errors")
        }
        return 0
    }

    // MARK: - Token lifetime

    /// Wakes the connection 60 s before its token expires, or at once when
    /// less than that is left, so the client always has time to refresh.
    private func armTokenTimer(_ socket: WebSocketConnection, now: Int64) {
        let expires = socket.identity.expiresAtMs
        guard expires < Int64.max / 2 else { return }
        socket.warnedExpiry = false
        let due = max(expires - 60_000, now)
        lws_set_timer_usecs(socket.wsi, lws_usec_t(max(0, due - now)) * 1000)
    }

    /// `token_expiring` once, then close 4004 at `exp` unless `auth` refreshed it.
    private func tokenTimer(_ socket: WebSocketConnection) -> Int32 {
        let now = WallClock.nowMs()
        let expires = socket.identity.expiresAtMs
        if now >= expires {
            socket.close(4004, "token expired")
            return 0
        }
        if !socket.warnedExpiry {
            socket.warnedExpiry = true
            socket.deliver(hub.tokenExpiring(inMs: expires - now))
        }
        lws_set_timer_usecs(socket.wsi, lws_usec_t(expires - now) * 1000)
        return 0
    }

    private func closed(_ slot: UnsafeMutablePointer<Int>) {
        guard let socket = sockets.removeValue(forKey: slot.pointee) else { return }
        socket.isClosed = true
        slot.pointee = 0
        if let count = connectionsByAddress[socket.peer], count > 1 {
            connectionsByAddress[socket.peer] = count - 1
        } else {
            connectionsByAddress[socket.peer] = nil
        }
        if let sessionId = socket.sessionId {
            hub.unsubscribe(socket, from: sessionId, identity: socket.identity)
        } else {
            hub.unsubscribeDashboard(socket)
        }
        logger.info("ws close", metadata: [
            "conn": "\(socket.id)", "session": "\(socket.sessionId ?? "(dashboard)")",
            "code": "\(socket.pendingClose.map { String($0.code) } ?? "peer")",
        ])
        if hub.draining { checkDrain(now: WallClock.nowMs()) }
    }
}

/// Lets the journal's thread wake the service loop. `lws_cancel_service` is
/// the one libwebsockets call documented as safe from another thread.
struct ContextWaker: @unchecked Sendable {
    let context: OpaquePointer
    func wake() { lws_cancel_service(context) }
}

/// Startup failure (port in use, bad interface).
public struct StartError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The protocol callback libwebsockets calls for every event: a top-level
/// function so it can be `@convention(c)`; it finds the `Server` through the
/// context's user pointer.
func switchboardCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                         _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else {
        return lws_callback_http_dummy(wsi, reason, user, input, len)
    }
    return Unmanaged<Server>.fromOpaque(owner).takeUnretainedValue().handle(wsi, reason, user, input, len)
}

/// The periodic timer's callback; the owner travels in the enclosing struct.
func switchboardTick(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul, let owner = CLibWebSockets_timerOwner(sul) else { return }
    Unmanaged<Server>.fromOpaque(owner).takeUnretainedValue().onTick()
}
