import Auth
import CLibEV
import CLibWebSockets
import CallState
import HTTP1
import Hub
import Logging
import Providers
import Store
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hub's network face: one libev loop, one service thread.
///
/// The hub accepts connections and reads HTTP/1.1 itself (`Listener`,
/// `HTTPConnection`, the strict `HTTP1.RequestParser`); a WebSocket opening
/// handshake that passes the hub's checks is handed, with the bytes read so
/// far, to libwebsockets, which runs the WebSocket on the same loop.
/// Everything that touches a connection or a session runs on the thread that
/// called `run()`. Other threads talk to it only through `requestShutdown()`,
/// which flips an atomic and wakes the loop with `lws_cancel_service`
/// (DESIGN.md "Threading").
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
    private var vhost: OpaquePointer?
    private var loop: EventLoop?
    private var listener: Listener?

    private var nextId = 1
    var sockets: [Int: WebSocketConnection] = [:]
    /// Requests awaiting or holding their answers, by exchange id.
    var exchanges: [Int: HTTPExchange] = [:]
    /// Open HTTP connections (before any upgrade), by connection id.
    private var httpConnections: [Int: HTTPConnection] = [:]
    /// Handshakes the hub admitted, by descriptor, until libwebsockets'
    /// filter callback claims them during the adoption.
    private var adopting: [Int32: Admission] = [:]
    /// Upgrades that passed the handshake checks, waiting for ESTABLISHED.
    private var admitted: [Int: Admission] = [:]
    /// One read buffer for every HTTP connection (reads happen one at a time).
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private let parserLimits: RequestParser.Limits
    /// Open WebSockets per client address (`limits.maxConnectionsPerIp`).
    private var connectionsByAddress: [String: Int] = [:]

    /// Subscribers to write at the end of this turn of the loop.
    private var turnWrites: TurnWrites!
    /// Writes `turnWrites` when the loop has handled a turn's events.
    private var turnEnd: TurnEndWatcher?
    private let shutdownRequested = Atomic<Bool>(false)
    private var drainDeadline: Int64?
    private var finished = false
    private var lastKeepalive: Int64 = 0

    /// The port actually bound (differs from the config when it asked for 0).
    public private(set) var port = 0
    /// The address actually bound (`0.0.0.0` for every IPv4 interface).
    public var boundHost: String { listener?.boundHost ?? config.server.host }

    /// How often timed work runs: syncStatus flips, drain progress.
    static let tickMicroseconds: Int64 = 100_000

    /// - Throws: `KeyError` when an `auth.*` key cannot be used.
    public init(config: HubConfig, logger: Logger) throws(KeyError) {
        self.config = config
        self.logger = logger
        self.hub = try Hub(config: config, frameHeadroom: LWS.pre, logger: logger)
        self.router = APIRouter(hub: hub)
        self.staticFiles = StaticFiles(directory: config.publicDir)
        self.parserLimits = RequestParser.Limits(maxHeadBytes: config.limits.maxHeaderBytes)

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

        turnWrites = TurnWrites()
        hub.deliverResponse = { [unowned self] id, response in
            guard let exchange = exchanges[id], exchange.response == nil else { return }
            exchange.response = response
            exchange.connection.answered(exchange)
        }
        hub.transportGauges = { [unowned self] in
            let dashboards = Double(sockets.values.filter { $0.sessionId == nil }.count)
            return [("switchboard_connections", [("endpoint", "calls")], Double(sockets.count) - dashboards),
                    ("switchboard_connections", [("endpoint", "dashboard")], dashboards),
                    ("switchboard_http_connections", [], Double(httpConnections.count))]
        }
    }

    deinit {
        if let context { lws_context_destroy(context) }
        readScratch.deallocate()
        protocols.deallocate()
        free(protocolName)
        retryPolicy.deallocate()
        tick.deallocate()
    }

    /// Creates the loop and the libwebsockets context, and binds the listener.
    /// - Returns: the bound port.
    public func start() throws -> Int {
        lws_set_log_level(Int32(LLL_ERR), switchboardLWSLog)
        guard let loop = EventLoop() else { throw StartError(message: "cannot create the libev event loop") }
        self.loop = loop
        turnEnd = TurnEndWatcher(loop: loop) { [unowned self] in
            if turnWrites.hasPending { turnWrites.run() }
        }
        var info = lws_context_creation_info()
        // The hub listens itself; libwebsockets serves the sockets it is handed.
        info.port = CLibWebSockets_noListenServerPort()
        info.protocols = UnsafePointer(protocols)
        info.options = CLibWebSockets_serverOptions(0, 1)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.retry_and_idle_policy = UnsafePointer(retryPolicy)
        // Room for any head the hub's own parser accepted: libwebsockets
        // reads the handshake again when it adopts the socket.
        info.max_http_header_data = UInt16(clamping: config.limits.maxHeaderBytes + 1024)
        info.timeout_secs = 30
        var foreign: UnsafeMutableRawPointer? = UnsafeMutableRawPointer(loop.loop)
        let created = withUnsafeMutablePointer(to: &foreign) { pointer -> OpaquePointer? in
            info.foreign_loops = pointer
            return lws_create_context(&info)
        }
        guard let ctx = created else {
            throw StartError(message: "cannot start libwebsockets on libev (is the libwebsockets-evlib-ev plugin installed?)")
        }
        context = ctx
        vhost = lws_get_vhost_by_name(ctx, "default")
        let listener = try Listener(host: config.server.host, port: config.server.port, loop: loop) { [unowned self] fd, peer in
            accept(fd: fd, peer: peer)
        }
        self.listener = listener
        port = listener.port
        try hub.openHistory { [waker = ContextWaker(context: ctx)] in waker.wake() }
        try openJournal(context: ctx)
        hub.setOutboundWake { [waker = ContextWaker(context: ctx)] in waker.wake() }
        tick.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        scheduleTick()
        return port
    }

    /// Opens the journal (`store.kind` sqlite), replays it into the hub, and
    /// starts the writer thread, whose commits wake this loop.
    private func openJournal(context: OpaquePointer) throws {
        if config.store.kind == "redis" { return try openCluster(context: context) }
        guard config.store.kind == "sqlite" else { return }
        let path = config.store.path ?? config.dataDir + "/switchboard.db"
        let store: SQLiteJournal
        do {
            let key = try config.store.encryptionKey.map { text throws(StoreError) in try SQLiteJournal.parseKey(text) }
            store = try SQLiteJournal(path: path, encryptionKey: key, checkpointIntervalMs: config.store.checkpointIntervalMs)
            let entries = try store.loadAll()
            try hub.restore(snapshots: store.loadSnapshots(), entries: entries)
            hub.restoreDevices(try store.loadDevices())
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
        guard let context, let loop else { return }
        loop.run()
        listener = nil
        for connection in Array(httpConnections.values) { connection.close() }
        // Everything acknowledged is already committed; this flushes the rest.
        hub.journal?.close()
        hub.cluster?.log.close()
        hub.closeHistory()
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
            let limits = config.limits
            for connection in Array(httpConnections.values) {
                connection.checkTimeouts(now: now, header: Int64(limits.headerTimeoutMs), body: Int64(limits.bodyTimeoutMs),
                                         idle: Int64(limits.idleTimeoutMs))
            }
        }
        listener?.resumeIfDue(now: now)
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
        for connection in Array(httpConnections.values) { connection.closeIfIdle() }
        checkDrain(now: WallClock.nowMs())
    }

    private func checkDrain(now: Int64) {
        guard let deadline = drainDeadline, !finished else { return }
        if (sockets.isEmpty && exchanges.isEmpty) || now >= deadline {
            finished = true
            if let context { lws_cancel_service(context) }
        }
    }

    /// Ends the loop once drained, from the timer (never a connection's
    /// callback); `run` then closes what is left.
    private func stopLoopIfFinished() {
        guard finished else { return }
        loop?.stop()
    }

    // MARK: - Callback dispatch

    func handle(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        let slot = user?.assumingMemoryBound(to: Int.self)
        switch reason {
        case LWS_CALLBACK_HTTP:
            // Only a handshake the hub already admitted reaches libwebsockets,
            // and it upgrades: a plain request here is a protocol violation.
            return -1
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return claimAdmission(wsi, slot)
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
            // An upgrade admitted but never established.
            if let slot, slot.pointee != 0 { admitted[slot.pointee] = nil }
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            // The frames these commits make leave with the rest of the
            // turn's, from `turnEnd`.
            hub.processCommitted()
            beginDrainIfRequested()
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    func allocateId() -> Int {
        defer { nextId += 1 }
        return nextId
    }

    /// Milliseconds of wall-clock time (the hub's clock).
    func now() -> Int64 { WallClock.nowMs() }

    // MARK: - HTTP connections

    private func accept(fd: Int32, peer: String) {
        guard let loop else {
            closeDescriptor(fd)
            return
        }
        let connection = HTTPConnection(id: allocateId(), fd: fd, peer: peer, server: self, loop: loop,
                                        limits: parserLimits, now: now())
        httpConnections[connection.id] = connection
    }

    /// A connection closed, or was handed to libwebsockets.
    func connectionGone(_ connection: HTTPConnection) {
        httpConnections[connection.id] = nil
        if hub.draining { checkDrain(now: now()) }
    }

    /// The hub's view of a request whose head was read.
    func makeExchange(_ head: RequestHead, connection: HTTPConnection) -> HTTPExchange {
        let headers = head.fieldDictionary
        let request = HTTPRequest(method: head.method, path: head.path,
                                  query: Dictionary(head.queryItems, uniquingKeysWith: { first, _ in first }),
                                  rawQuery: head.rawQuery, headers: headers,
                                  peer: hub.clientAddress(peer: connection.peer, headers: headers))
        let exchange = HTTPExchange(id: allocateId(), connection: connection, request: request, keepAlive: head.keepAlive)
        exchanges[exchange.id] = exchange
        return exchange
    }

    /// An exchange that only carries a refusal (a request that could not be read).
    func makeErrorExchange(connection: HTTPConnection) -> HTTPExchange {
        let exchange = HTTPExchange(id: allocateId(), connection: connection,
                                    request: HTTPRequest(method: "-", path: "-", peer: connection.peer), keepAlive: false)
        exchanges[exchange.id] = exchange
        return exchange
    }

    /// The exchange's answer was written, or its connection went: forget it,
    /// and tell the hub when nobody will read an answer it still owes.
    func finished(_ exchange: HTTPExchange) {
        guard exchanges.removeValue(forKey: exchange.id) != nil else { return }
        if exchange.response == nil { hub.cancelPending(exchange.id) }
        if hub.draining { checkDrain(now: now()) }
    }

    private func bodyLimit(_ request: HTTPRequest) -> Int {
        request.path == WebhookRoute.elevenlabs.path ? config.limits.maxAudioBodyBytes : config.limits.maxBodyBytes
    }

    func bodyLimitMessage(_ exchange: HTTPExchange) -> String {
        exchange.request.path == WebhookRoute.elevenlabs.path
            ? "body over limits.maxAudioBodyBytes (\(config.limits.maxAudioBodyBytes))"
            : "body over limits.maxBodyBytes (\(config.limits.maxBodyBytes))"
    }

    /// A body announced larger than its limit is refused before it is read.
    func refuseBodyEarly(_ exchange: HTTPExchange) -> HTTPResponse? {
        guard let length = exchange.request.headers["content-length"].flatMap({ Int($0) }),
              length > bodyLimit(exchange.request) else { return nil }
        logger.notice("rejected request", metadata: ["status": "413", "path": "\(exchange.request.path)", "peer": "\(exchange.request.peer)"])
        return .error(413, "body_too_large", bodyLimitMessage(exchange))
    }

    /// Takes body bytes as they arrive. An ElevenLabs body too large to
    /// buffer is verified and scanned as it streams.
    /// - Returns: false when the body passed its limit (413, connection closed).
    func bodyChunk(_ exchange: HTTPExchange, _ chunk: UnsafeRawBufferPointer) -> Bool {
        if exchange.audio != nil || exchange.streamError != nil {
            return streamBody(exchange, chunk)
        }
        let total = exchange.request.body.count + chunk.count
        if total > config.limits.maxBodyBytes, exchange.request.path == WebhookRoute.elevenlabs.path {
            do {
                exchange.audio = try ElevenLabsAudioStream(secrets: config.providerSecrets,
                                                           headers: exchange.request.headers, now: WallClock.nowMs())
            } catch {
                exchange.streamError = error
            }
            let buffered = exchange.request.body
            exchange.request.body = []
            guard buffered.withUnsafeBytes({ streamBody(exchange, $0) }) else { return false }
            return streamBody(exchange, chunk)
        }
        if total > config.limits.maxBodyBytes { return false }
        exchange.request.body.append(contentsOf: chunk)
        return true
    }

    private func streamBody(_ exchange: HTTPExchange, _ chunk: UnsafeRawBufferPointer) -> Bool {
        exchange.streamedBytes += chunk.count
        if exchange.streamedBytes > config.limits.maxAudioBodyBytes {
            exchange.audio = nil
            return false
        }
        exchange.audio?.feed(chunk)
        return true
    }

    /// Routes a complete request; its answer is set now or later (`deliverResponse`).
    func dispatch(_ exchange: HTTPExchange) {
        if exchange.audio != nil || exchange.streamError != nil {
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
            if response != HTTPResponse.accepted, exchange.response == nil { exchange.response = response }
            return
        }
        let request = exchange.request
        if request.path == "/ws/dashboard" || Server.sessionId(inPath: request.path) != nil {
            exchange.response = webSocketProbe(request)
            return
        }
        switch router.route(request, exchangeId: exchange.id) {
        case .pending?:
            return
        case .response(let response)?:
            if response.status >= 400 {
                logger.notice("rejected request", metadata: [
                    "status": "\(response.status)", "method": "\(request.method)", "path": "\(request.path)",
                    "peer": "\(request.peer)",
                ])
            }
            if exchange.response == nil { exchange.response = response }
            return
        case nil:
            break
        }
        exchange.response = staticFile(request)
    }

    private func staticFile(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return .error(405, "method_not_allowed", "static files accept GET", headers: [("Allow", "GET, HEAD")])
        }
        guard let file = staticFiles.resolve(request.path), let body = StaticFiles.read(file) else {
            logger.notice("rejected request", metadata: ["status": "404", "path": "\(request.path)", "peer": "\(request.peer)"])
            return .error(404, "not_found", "no such file")
        }
        return HTTPResponse(status: 200, contentType: StaticFiles.contentType(file),
                            headers: [("cache-control", "no-cache")], body: body)
    }

    /// Headers on every answer: what browsers need to treat the hub's
    /// pages and errors safely.
    private static let securityFields: [(String, String)] = [
        ("content-security-policy", "default-src 'none'; img-src 'self' data: ; script-src 'self'; font-src 'self'; "
            + "style-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none';form-action 'self';"),
        ("x-content-type-options", "nosniff"),
        ("x-xss-protection", "1; mode=block"),
        ("x-frame-options", "deny"),
        ("referrer-policy", "no-referrer"),
    ]

    /// Appends the bytes of an answer.
    func serialize(_ response: HTTPResponse, for exchange: HTTPExchange, close: Bool, to out: inout [UInt8]) {
        var fields = Server.securityFields
        fields.append(("content-type", response.contentType ?? "text/plain"))
        for (name, value) in response.headers { fields.append((name.lowercased(), value)) }
        ResponseWriter.append(status: response.status, fields: fields, body: response.body, close: close,
                              omitBody: exchange.request.method == "HEAD", to: &out)
    }

    func logRefusal(status: Int, path: String, peer: String) {
        logger.notice("rejected request", metadata: ["status": "\(status)", "path": "\(path)", "peer": "\(peer)"])
    }

    // MARK: - WebSocket

    /// What the hub decided about a handshake, kept until the socket is established.
    struct Admission {
        let identity: ClientIdentity
        let address: String
        /// nil for `/ws/dashboard`.
        let sessionId: String?
        let resume: (epoch: String, since: Int64)?
    }

    /// Upgrade checks, answered with a real HTTP/1.1 status before any 101:
    /// draining (503), path and session id (404/400), the handshake fields
    /// (400/426), Origin (403), the per-address cap (429), the token (401)
    /// and what it grants (403). An admitted handshake is remembered by its
    /// descriptor until libwebsockets adopts the socket.
    func admitUpgrade(_ head: RequestHead, connection: HTTPConnection) -> UpgradeDecision {
        let path = head.path
        let headers = head.fieldDictionary
        let query = Dictionary(head.queryItems, uniquingKeysWith: { first, _ in first })
        let address = hub.clientAddress(peer: connection.peer, headers: headers)
        let now = WallClock.nowMs()
        var identity: ClientIdentity?
        var refusedOrigin: String?
        let sessionId = Server.sessionId(inPath: path)
        let refusal: HTTPResponse? = {
            if hub.draining { return Hub.drainingResponse }
            guard sessionId != nil || path == "/ws/dashboard" else {
                return .error(404, "not_found", "no WebSocket endpoint at \(path)")
            }
            if let sessionId, !SessionID.isValid(sessionId) {
                return .error(400, "invalid_session_id", "session id must be 1-128 of [A-Za-z0-9._:-]")
            }
            if headers["sec-websocket-version"] != "13" {
                return .error(426, "unsupported_websocket_version", "Sec-WebSocket-Version must be 13",
                              headers: [("Sec-WebSocket-Version", "13")])
            }
            guard let key = headers["sec-websocket-key"], key.utf8.count == 24, key.hasSuffix("==") else {
                return .error(400, "bad_handshake", "Sec-WebSocket-Key must be 16 bytes in base64")
            }
            if let offered = headers["sec-websocket-protocol"], BearerToken.offersToken(offered),
               !BearerToken.subprotocolsWithoutToken(offered).contains(BearerToken.subprotocol) {
                // The 101 must name an offered protocol, and the token is never echoed.
                return .error(400, "bad_handshake", "offer switchboard.v1 next to bearer.<token> in Sec-WebSocket-Protocol")
            }
            if let origin = headers["origin"], !originAllowed(origin, host: headers["host"]) {
                refusedOrigin = origin
                return Server.originRefusal(origin)
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
            var metadata: Logger.Metadata = ["status": "\(refusal.status)", "path": "\(path)", "peer": "\(address)"]
            // An operator who set allowedOrigins needs the origin to add, not just "403".
            if let refusedOrigin { metadata["origin"] = "\(refusedOrigin)" }
            logger.notice("rejected upgrade", metadata: metadata)
            return .refuse(refusal)
        }
        guard let identity else { return .refuse(.error(401, "invalid_token", "no identity")) }
        var resume: (epoch: String, since: Int64)?
        if let epoch = query["epoch"], let since = query["since"].flatMap({ Int64($0) }) { resume = (epoch, since) }
        return .admit(Admission(identity: identity, address: address, sessionId: sessionId, resume: resume))
    }

    enum UpgradeDecision {
        case admit(Admission)
        case refuse(HTTPResponse)
    }

    /// Gives an admitted connection's descriptor, and every byte read from it
    /// so far, to libwebsockets, which answers the handshake and runs the
    /// WebSocket. libwebsockets reads the handshake from `bytes` at once, in
    /// this call; the filter callback claims the admission by descriptor.
    func adopt(fd: Int32, bytes: [UInt8], admission: Admission) {
        guard let vhost else {
            closeDescriptor(fd)
            return
        }
        adopting[fd] = admission
        let bytes = UpgradeHead.withoutBearerSubprotocol(bytes)
        let wsi = bytes.withUnsafeBytes { b in
            lws_adopt_socket_vhost_readbuf(vhost, fd, b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count)
        }
        // On failure libwebsockets has closed the descriptor; either way the
        // admission is claimed by now or never will be.
        if wsi == nil || adopting[fd] != nil { adopting[fd] = nil }
    }

    /// libwebsockets' handshake filter: admits exactly the sockets the hub handed over.
    private func claimAdmission(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        let fd = Int32(lws_get_socket_fd(wsi))
        guard let slot, let admission = adopting.removeValue(forKey: fd) else { return 1 }
        let id = allocateId()
        slot.pointee = id
        admitted[id] = admission
        return 0
    }

    /// A plain request (no upgrade) to a WebSocket path. A browser cannot
    /// read the status of a refused handshake (its socket just closes, 1006),
    /// so the browser client asks here after a handshake fails: 403 with the
    /// refused origin, else 426. Readable from any origin (it says no more
    /// than the refused handshake did), so a foreign page learns why.
    func webSocketProbe(_ request: HTTPRequest) -> HTTPResponse {
        var response: HTTPResponse
        if let origin = request.headers["origin"], !originAllowed(origin, host: request.headers["host"]) {
            response = Server.originRefusal(origin)
            logger.notice("rejected request", metadata: [
                "status": "403", "method": "\(request.method)", "path": "\(request.path)",
                "peer": "\(request.peer)", "origin": "\(origin)",
            ])
        } else {
            response = .error(426, "upgrade_required", "\(request.path) is a WebSocket endpoint",
                              headers: [("Upgrade", "websocket")])
        }
        response.headers.append(("Access-Control-Allow-Origin", "*"))
        return response
    }

    /// Whether a browser page at `origin` may open a WebSocket (§5): an exact
    /// entry of `security.allowedOrigins`, or the hub's own origin, whatever
    /// the list says: the origin of `server.publicUrl`, or the host the
    /// request was sent to. The list names *other* sites; the dashboard the
    /// hub serves itself must keep working when someone fills it in.
    func originAllowed(_ origin: String, host: String?) -> Bool {
        OriginPolicy(allowed: config.security.allowedOrigins, publicUrl: config.server.publicUrl)
            .allows(origin, host: host)
    }

    /// The 403 of a refused origin, naming it (the same body for an upgrade
    /// and for the browser client's plain-request probe of a `/ws/` path).
    static func originRefusal(_ origin: String) -> HTTPResponse {
        .error(403, "origin_not_allowed",
               "origin \(origin) is not allowed: add it to security.allowedOrigins (the hub's own origin, server.publicUrl, is always allowed)")
    }

    /// `/ws/calls/{sessionId}` → the id (unvalidated), else nil.
    static func sessionId(inPath path: String) -> String? {
        let prefix = "/ws/calls/"
        guard path.hasPrefix(prefix) else { return nil }
        return String(path.dropFirst(prefix.count))
    }

    private func established(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?) -> Int32 {
        guard let slot else { return -1 }
        let id = slot.pointee
        guard let admission = admitted.removeValue(forKey: id) else { return -1 }
        let sessionId = admission.sessionId
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
        hub.subscribe(socket, to: sessionId, identity: socket.identity, resume: admission.resume, now: now)
        return 0
    }

    private func receive(_ wsi: OpaquePointer, _ slot: UnsafeMutablePointer<Int>?,
                         _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        guard let slot, let socket = sockets[slot.pointee] else { return -1 }
        socket.lastHeardAt = WallClock.nowMs()
        // A connection being closed applies nothing more: its close frame
        // may already be out, and an ack could no longer follow.
        if socket.pendingClose != nil { return 0 }
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

/// libwebsockets' log lines, on standard error like the hub's own. The
/// adoption of a handed-over socket logs at error level although nothing
/// failed; those lines are dropped.
func switchboardLWSLog(_ level: Int32, _ line: UnsafePointer<CChar>?) {
    guard let line else { return }
    let text = String(cString: line)
    if text.contains("readbuf") || text.contains("calling service") { return }
    let bytes = Array(("lws: " + text).utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Startup failure (port in use, bad interface).
public struct StartError: Error, CustomStringConvertible {
    public let message: String
    /// The process exit status `serve` ends with: 78 (EX_CONFIG) for a
    /// configuration the hub refuses, else 1.
    public var exitCode: Int32 = 1
    public init(message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
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
