import CallState
import Foundation
import JSONCodec

/// Asked for a fresh token: before connecting without one, on
/// `token_expiring`, and after close 4001 / 4004 or an upgrade refused with 401.
public typealias TokenProvider = @Sendable () async throws -> String

/// Follows one call on a Switchboard hub (`/ws/calls/{sessionId}`, PROTOCOL.md §3)
/// and reports what the device sees.
///
/// ```swift
/// let call = SwitchboardCall(baseURL: "wss://hub.example.com/", sessionId: id,
///                            token: token, tokenProvider: { try await backend.switchboardToken(id) })
/// await call.start()
/// Task { for await update in call.states { render(update.callState, update.syncStatus) } }
/// let ack = try await call.reportCallKitEvent("answer", callUUID: uuid.uuidString)
/// ```
///
/// Behaviour (the browser client's, docs/browser-client.md):
/// - Reconnects after a short, capped, jittered back-off (`Backoff`: the
///   first retry within 250 ms, or 1 s after a 1001, never more than 5 s
///   apart), and resumes with `?epoch=E&since=V` from the last version applied: a
///   `recovered:true` snapshot keeps the document and the missed frames
///   follow; a `recovered:false` one starts the document over.
/// - Frames whose version is not above the one held are ignored.
/// - Liveness: a `ping` every `heartbeat` (5 s); no answer within
///   `pongTimeout` (5 s) drops the link (local code 4000) and reconnects, so a
///   frozen hub is noticed within 10 s. An attempt whose upgrade is not
///   answered within `openTimeout` (5 s) is given up and retried.
/// - `token_expiring` → asks `tokenProvider` and sends `{"type":"auth"}` on
///   the open connection. Close 4001 / 4004 (or a 401 upgrade) → a new token,
///   then reconnect. Close 4003 / 4400 / 1009 (or a 400 / 403 / 404 upgrade)
///   → stop with `.failed`; 1000 from the hub → stop with `.closed`.
/// - Reports wait while disconnected and a report not acknowledged before a
///   drop is sent again with the same id, which the hub answers as a
///   duplicate (§2.3): an event is never lost nor applied twice.
public actor SwitchboardCall {
    /// The session followed.
    public nonisolated let sessionId: String
    /// WebSocket base URL, ending in `/` (`ws(s)://host[:port]/prefix/`).
    public nonisolated let baseURL: String

    private let transport: any WebSocketTransport
    private let backoff: Backoff
    private let tokenProvider: TokenProvider?
    private let tokenPlacement: TokenPlacement
    private let heartbeatMs: Int
    private let pongTimeoutMs: Int
    private let openTimeoutMs: Int
    private let maxOutbox: Int

    /// The merged document (PROTOCOL.md §1), once a snapshot arrived.
    public private(set) var document: [String: JSONValue]?
    /// The session's epoch, once known.
    public private(set) var epoch: String?
    /// The last version applied.
    public private(set) var version: Int64?
    /// Who else follows the call: `{sub, role, at}` entries.
    public private(set) var presence: [JSONValue] = []
    /// The link's state.
    public private(set) var status: ConnectionStatus = .idle

    private var token: String?
    private var link: Link?
    private var linkSerial = 0
    private var attempt = 0
    /// The previous delay of this outage; 0: the next retry is its first.
    private var previousDelayMs = 0
    /// When the link last went down; nil while the hub answers.
    private var downSinceMs: Int64?
    private var pauseTask: Task<Void, Never>?
    private var started = false
    private var stopped = false
    private var runner: Task<Void, Never>?
    private var heartbeat: Task<Void, Never>?
    private var pongCheck: Task<Void, Never>?
    private var lastMessageAtMs: Int64 = 0
    private var refreshingToken = false
    /// Reports not yet acknowledged, in the order they were made.
    private var outbox: [PendingReport] = []
    private var pendingAuth: Set<String> = []
    private var idCounter = 0
    private let idPrefix: String

    private let stateFeed = Broadcaster<CallUpdate>(replaysLatest: true)
    private let qualityFeed = Broadcaster<QualityUpdate>(replaysLatest: true)
    private let statusFeed = Broadcaster<ConnectionStatus>(replaysLatest: true)
    private let errorFeed = Broadcaster<SwitchboardError>(replaysLatest: false)

    /// One open WebSocket, the task that writes to it in order, and the
    /// feed its receive loop reads (where the heartbeat ends a silent link
    /// without waiting for the transport's own close).
    private struct Link {
        let serial: Int
        let connection: any WebSocketConnection
        let writer: AsyncStream<String>.Continuation
        let events: AsyncStream<WebSocketMessage>.Continuation
        let openedAtMs: Int64
    }

    private struct PendingReport {
        let id: String
        let text: String
        let continuation: CheckedContinuation<Ack, any Error>
    }

    /// - Parameters:
    ///   - baseURL: the hub's WebSocket base (`wss://hub.example.com/` or with a
    ///     path prefix); `http(s)://` is accepted and converted.
    ///   - sessionId: the call to follow.
    ///   - token: a JWT granting the session (role `client` to report). Nil
    ///     with a `tokenProvider`: the provider is asked before connecting.
    ///   - tokenProvider: returns a fresh token (see `TokenProvider`).
    ///   - transport: how WebSockets are opened (default: the platform's).
    ///   - backoff: reconnect delays (`Backoff.default`: 250 ms first, 1 s
    ///     after a drain, at most 5 s).
    ///   - heartbeat: how often a `ping` is sent (default 5 s). Nil disables
    ///     pings and the liveness check.
    ///   - pongTimeout: a link with nothing from the hub (pong or any frame)
    ///     this long after a ping is dropped with local code 4000 and re-opened:
    ///     a frozen hub, or half-open TCP after sleep or a network change.
    ///     Default 5 s, so a silent hub is noticed within `heartbeat + pongTimeout`.
    ///   - openTimeout: an attempt whose upgrade is not answered this long is
    ///     given up and retried (default 5 s; nil: the transport's own limit).
    ///   - tokenPlacement: `Authorization` header (default) or `?token=`.
    ///   - maxOutbox: unacknowledged reports kept for re-sending.
    public init(baseURL: String, sessionId: String, token: String?, tokenProvider: TokenProvider? = nil,
                transport: any WebSocketTransport = DefaultWebSocketTransport(), backoff: Backoff = .default,
                heartbeat: Duration? = .seconds(5), pongTimeout: Duration = .seconds(5),
                openTimeout: Duration? = .seconds(5), tokenPlacement: TokenPlacement = .authorizationHeader,
                maxOutbox: Int = 500) {
        self.baseURL = Self.webSocketBase(baseURL)
        self.sessionId = sessionId
        self.token = token
        self.tokenProvider = tokenProvider
        self.transport = transport
        self.backoff = backoff
        self.heartbeatMs = heartbeat.map(Self.milliseconds) ?? 0
        self.pongTimeoutMs = Self.milliseconds(pongTimeout)
        self.openTimeoutMs = openTimeout.map(Self.milliseconds) ?? 0
        self.tokenPlacement = tokenPlacement
        self.maxOutbox = maxOutbox
        self.idPrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    }

    // MARK: - Streams

    /// The merged document as it changes: fresh snapshots and `state_change`
    /// frames newer than the version held. Each access is a new subscription
    /// that starts with the latest update (if any); it ends when the call stops.
    public nonisolated var states: AsyncStream<CallUpdate> { stateFeed.subscribe() }

    /// `quality` frames (latest sample, aggregate, warnings); starts with the latest.
    public nonisolated var quality: AsyncStream<QualityUpdate> { qualityFeed.subscribe() }

    /// Link status changes; starts with the current status.
    public nonisolated var statuses: AsyncStream<ConnectionStatus> { statusFeed.subscribe() }

    /// `error` frames not tied to a pending report, and token provider failures.
    public nonisolated var errors: AsyncStream<SwitchboardError> { errorFeed.subscribe() }

    // MARK: - Lifecycle

    /// Connects (once); reconnects by itself until `close()` or a fatal close code.
    public func start() {
        guard !started, !stopped else { return }
        started = true
        runner = Task { await self.run() }
    }

    /// Closes with 1000 and stops for good; pending reports fail with code `closed`.
    public func close() {
        guard !stopped else { return }
        link?.connection.close(code: 1000, reason: "client closed")
        stop(.closed)
    }

    /// Skips the pending back-off and tries now (e.g. when the app learns the
    /// network is back, from `NWPathMonitor`). No-op unless reconnecting.
    public func reconnectNow() {
        pauseTask?.cancel()
    }

    /// True when the document's `callState` is terminal (ended, declined, …).
    public var isTerminal: Bool {
        document?["callState"]?.stringValue.flatMap(CallStateValue.init(rawValue:))?.isTerminal ?? false
    }

    // MARK: - Reports

    /// Reports state fields (§3.3 `report`): any §1 field except the derived
    /// ones. Resolves with the hub's `ack` once the input is durably stored.
    ///
    /// While disconnected the report waits and is sent on reconnect (same id,
    /// so a resend is a duplicate, never a second event).
    /// - Parameters:
    ///   - fields: e.g. `["callState": "connected", "callUUID": .string(uuid)]`.
    ///   - metadata: free-form string / number / bool values, merged per key.
    ///   - ts: when the device observed it, ms since the epoch (default: now).
    ///     The merge is last-writer-wins on `ts`.
    ///   - seq: the device's own ordering number, if it keeps one.
    /// - Throws: `SwitchboardError` from an `error` frame, or code `closed`
    ///   / `outbox_full`; `CancellationError` when the task is cancelled.
    @discardableResult
    public func report(_ fields: [String: JSONValue], metadata: [String: JSONValue] = [:], ts: Int64? = nil,
                       seq: Int64? = nil) async throws -> Ack {
        let id = nextId()
        guard !stopped else { throw SwitchboardError(code: "closed", message: "the call is stopped", id: id) }
        guard outbox.count < maxOutbox else {
            throw SwitchboardError(code: "outbox_full", message: "too many unacknowledged reports", id: id)
        }
        var message: [String: JSONValue] = ["type": "report", "id": .string(id), "ts": .int(ts ?? Self.nowMs()),
                                            "state": .object(fields)]
        if !metadata.isEmpty { message["metadata"] = .object(metadata) }
        if let seq { message["seq"] = .int(seq) }
        let text = JSONCodec.encodeString(.object(message))
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Ack, any Error>) in
                outbox.append(PendingReport(id: id, text: text, continuation: continuation))
                send(text)
            }
        } onCancel: {
            Task { await self.cancelReport(id) }
        }
    }

    /// Reports a CallKit / CallKeep / client event as its `callState`
    /// (`CallKitEvents`: `answer` → connected, `end` → ended, `hold` →
    /// on_hold, `unhold` → connected, `reject` → declined, `start` →
    /// initiated, `incoming` → ringing, …).
    /// - Parameters:
    ///   - event: the event name.
    ///   - callUUID: the CallKit UUID, stored as `callUUID`.
    ///   - ts: when it happened (default: now).
    /// - Throws: `SwitchboardError` code `unknown_event` for a name with no mapping,
    ///   else as `report`.
    @discardableResult
    public func reportCallKitEvent(_ event: String, callUUID: String? = nil, ts: Int64? = nil) async throws -> Ack {
        guard let state = CallKitEvents.callState(for: event) else {
            throw SwitchboardError(code: "unknown_event", message: "no callState for event \"\(event)\"")
        }
        var fields: [String: JSONValue] = ["callState": .string(state.rawValue)]
        if let callUUID { fields["callUUID"] = .string(callUUID) }
        return try await report(fields, ts: ts)
    }

    /// Sends one quality sample (§4): `latency` or `rtt`, `jitter`,
    /// `packetLoss` (percent), optional `mos`; `rttSec` / `jitterSec` for
    /// WebRTC `getStats` values. Not queued (a stale sample is worthless).
    /// - Returns: whether it was sent (false while disconnected).
    @discardableResult
    public func sendQuality(_ metrics: [String: Double], ts: Int64? = nil) -> Bool {
        guard link != nil, status == .open else { return false }
        let clean = metrics.filter { $0.value.isFinite }.mapValues { JSONValue.double($0) }
        send(JSONCodec.encodeString(.object(["type": "quality", "id": .string(nextId()),
                                             "ts": .int(ts ?? Self.nowMs()), "metrics": .object(clean)])))
        return true
    }

    // MARK: - Connection loop

    private func run() async {
        while !stopped {
            if token == nil, let tokenProvider {
                do {
                    token = try await Self.fetch(tokenProvider)
                } catch {
                    if stopped { return }
                    errorFeed.send(SwitchboardError(code: "token_provider", message: "\(error)"))
                    await pause(closeCode: nil, cause: .error)
                    continue
                }
                if stopped { return }
            }
            setStatus(.connecting(attempt: attempt))
            let connection: any WebSocketConnection
            do {
                connection = try await openConnection(url: connectURL(), headers: requestHeaders())
            } catch is OpenTimedOut {
                if stopped { return }
                await pause(closeCode: nil, cause: .openTimeout)
                continue
            } catch {
                if stopped { return }
                guard await retryAfterRefusal((error as? WebSocketTransportError)?.httpStatus, "\(error)") else { return }
                continue
            }
            if stopped {
                connection.close(code: 1000, reason: "client closed")
                return
            }
            let (code, reason) = await serve(connection)
            if stopped { return }
            guard await retryAfterClose(code: code, reason: reason) else { return }
        }
    }

    /// Opens a WebSocket, giving up after `openTimeoutMs`: a hub that
    /// accepts the TCP connection but never answers (frozen, or a proxy in
    /// front of a dead one) must not leave the call "connecting". A
    /// connection that opens after the deadline is closed.
    private func openConnection(url: String, headers: [String: String]) async throws -> any WebSocketConnection {
        let transport = self.transport
        guard openTimeoutMs > 0 else { return try await transport.connect(url: url, headers: headers) }
        let limit = openTimeoutMs
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any WebSocketConnection, any Error>) in
            let once = ResumeOnce(continuation)
            let connecting = Task {
                do {
                    let connection = try await transport.connect(url: url, headers: headers)
                    if !once.resume(returning: connection) { connection.close(code: 1000, reason: "opened after the open timeout") }
                } catch {
                    _ = once.resume(throwing: error)
                }
            }
            Task {
                try? await Task.sleep(for: .milliseconds(limit))
                if once.resume(throwing: OpenTimedOut()) { connecting.cancel() }
            }
        }
    }

    /// Runs one open connection until it ends; returns its close code and reason.
    private func serve(_ connection: any WebSocketConnection) async -> (Int, String) {
        linkSerial += 1
        let serial = linkSerial
        let (stream, writer) = AsyncStream<String>.makeStream()
        Task {
            for await text in stream {
                do { try await connection.send(text) } catch { break }
            }
        }
        // The transport's messages, and the heartbeat's verdict, arrive here.
        let (events, feed) = AsyncStream<WebSocketMessage>.makeStream()
        Task {
            while true {
                let message: WebSocketMessage
                do { message = try await connection.receive() } catch { message = .closed(code: 1006, reason: "connection lost") }
                feed.yield(message)
                if case .closed = message { break }
            }
            feed.finish()
        }
        let opened = Self.nowMs()
        link = Link(serial: serial, connection: connection, writer: writer, events: feed, openedAtMs: opened)
        lastMessageAtMs = opened
        setStatus(.open)
        startHeartbeat(serial: serial)
        // Reports not yet acknowledged go again with the same id (§2.3).
        for entry in outbox { writer.yield(entry.text) }

        var end = (1006, "connection lost")
        var answered = false
        receiving: for await message in events {
            switch message {
            case .text(let text):
                lastMessageAtMs = Self.nowMs()
                if !answered {
                    // Success: the hub answered. The next outage starts afresh.
                    answered = true
                    attempt = 0
                    previousDelayMs = 0
                    downSinceMs = nil
                }
                handle(text)
            case .closed(let code, let reason):
                end = (code, reason)
                break receiving
            }
        }
        writer.finish()
        heartbeat?.cancel()
        heartbeat = nil
        pongCheck?.cancel()
        pongCheck = nil
        link = nil
        pendingAuth = []
        return end
    }

    /// After a close: true to try again (after the pause), false when stopped.
    private func retryAfterClose(code: Int, reason: String) async -> Bool {
        switch code {
        case 1000:
            stop(.closed)
            return false
        case 1009, 4003, 4400:
            stop(.failed(code: code, reason: reason))
            return false
        case 4001, 4004:
            guard tokenProvider != nil else {
                stop(.failed(code: code, reason: reason))
                return false
            }
            token = nil  // asked for at the top of the loop
            await pause(closeCode: code, cause: .token)
        default:
            await pause(closeCode: code, cause: DisconnectCause.of(closeCode: code))
        }
        return !stopped
    }

    /// After a failed upgrade: true to try again, false when stopped.
    private func retryAfterRefusal(_ httpStatus: Int?, _ message: String) async -> Bool {
        switch httpStatus {
        case 400?, 403?, 404?:
            stop(.failed(code: httpStatus, reason: message))
            return false
        case 401?:
            guard tokenProvider != nil else {
                stop(.failed(code: 401, reason: message))
                return false
            }
            token = nil
            await pause(closeCode: nil, cause: .token)
        case 429?:
            await pause(closeCode: nil, cause: .rateLimited, rateLimited: true)
        case let status?:
            await pause(closeCode: nil, cause: status == 503 ? .draining : .refused)
        default:
            await pause(closeCode: nil, cause: .unreachable)
        }
        return !stopped
    }

    /// Waits out the back-off (`Backoff`) before the next attempt;
    /// `reconnectNow()` cuts it short.
    private func pause(closeCode: Int?, cause: DisconnectCause, rateLimited: Bool = false) async {
        let now = Self.nowMs()
        let down = downSinceMs ?? now
        downSinceMs = down
        let delay = backoff.delayMs(previousMs: previousDelayMs, downMs: Int(now - down),
                                    closeCode: rateLimited ? 4029 : closeCode, random: .random(in: 0..<1))
        // Never 0 again: that would make the next retry look like the first of an outage.
        previousDelayMs = max(delay, 1)
        attempt += 1
        setStatus(.reconnecting(attempt: attempt, delayMs: delay, closeCode: closeCode, cause: cause))
        let sleeper = Task<Void, Never> { _ = try? await Task.sleep(for: .milliseconds(delay)) }
        pauseTask = sleeper
        await sleeper.value
        pauseTask = nil
    }

    private func stop(_ final: ConnectionStatus) {
        guard !stopped else { return }
        stopped = true
        runner?.cancel()
        pauseTask?.cancel()
        heartbeat?.cancel()
        pongCheck?.cancel()
        link?.writer.finish()
        let pending = outbox
        outbox = []
        for entry in pending {
            entry.continuation.resume(throwing: SwitchboardError(code: "closed", message: "the call stopped (\(final))", id: entry.id))
        }
        setStatus(final)
        stateFeed.finish()
        qualityFeed.finish()
        statusFeed.finish()
        errorFeed.finish()
    }

    private func setStatus(_ new: ConnectionStatus) {
        status = new
        statusFeed.send(new)
    }

    private func send(_ text: String) {
        link?.writer.yield(text)
    }

    private func cancelReport(_ id: String) {
        guard let index = outbox.firstIndex(where: { $0.id == id }) else { return }
        outbox.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    // MARK: - Heartbeat and tokens

    private func startHeartbeat(serial: Int) {
        heartbeat?.cancel()
        guard heartbeatMs > 0 else { return }
        let interval = heartbeatMs
        heartbeat = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(interval))
                guard let self, !Task.isCancelled else { return }
                await self.beat(serial: serial)
            }
        }
    }

    /// Sends a ping; when nothing at all arrives within `pongTimeoutMs`, the
    /// link is ended at once (the transport's own close waits for a frozen
    /// peer) and the call reconnects.
    private func beat(serial: Int) {
        guard let link, link.serial == serial else { return }
        let sentAt = Self.nowMs()
        send(JSONCodec.encodeString(.object(["type": "ping", "id": .string(nextId())])))
        guard pongTimeoutMs > 0, pongCheck == nil else { return }
        let timeout = pongTimeoutMs
        pongCheck = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(timeout))
            guard let self, !Task.isCancelled else { return }
            await self.checkPong(serial: serial, sentAt: sentAt)
        }
    }

    private func checkPong(serial: Int, sentAt: Int64) {
        pongCheck = nil
        guard let link, link.serial == serial, lastMessageAtMs < sentAt else { return }
        let reason = "no answer to a ping within \(pongTimeoutMs) ms"
        link.events.yield(.closed(code: 4000, reason: reason))
        link.connection.close(code: 4000, reason: reason)
    }

    private func refreshOnOpenConnection(serial: Int) async {
        guard let tokenProvider, !refreshingToken else { return }
        refreshingToken = true
        defer { refreshingToken = false }
        do {
            let fresh = try await Self.fetch(tokenProvider)
            token = fresh
            guard let link, link.serial == serial else { return }
            let id = nextId()
            pendingAuth.insert(id)
            send(JSONCodec.encodeString(.object(["type": "auth", "id": .string(id), "token": .string(fresh)])))
        } catch {
            errorFeed.send(SwitchboardError(code: "token_provider", message: "\(error)"))
        }
    }

    private static func fetch(_ provider: TokenProvider) async throws -> String {
        let token = try await provider()
        guard !token.isEmpty else { throw SwitchboardError(code: "token_provider", message: "the token provider returned no token") }
        return token
    }

    // MARK: - Frames

    private func handle(_ text: String) {
        guard let parsed = try? JSONCodec.parse(text) else {
            errorFeed.send(SwitchboardError(code: "invalid_json", message: "the hub sent a frame that is not JSON"))
            return
        }
        if case .array(let frames) = parsed {
            for frame in frames { dispatch(frame) }
        } else {
            dispatch(parsed)
        }
    }

    private func dispatch(_ frame: JSONValue) {
        switch frame["type"]?.stringValue {
        case "snapshot": snapshot(frame)
        case "state_change": stateChange(frame)
        case "quality": qualityFrame(frame)
        case "presence": presenceFrame(frame)
        case "ack": settle(frame, ok: true)
        case "error": settle(frame, ok: false)
        case "token_expiring":
            if let serial = link?.serial { Task { await self.refreshOnOpenConnection(serial: serial) } }
        default: break  // pong (the heartbeat only needs "something arrived"), future types
        }
    }

    private func snapshot(_ frame: JSONValue) {
        let frameEpoch = frame["epoch"]?.stringValue
        if frame["recovered"]?.boolValue == true, document != nil, frameEpoch == epoch {
            // The missed frames follow in order; the held document stays.
            if case .object(let call)? = frame["call"], let v = frame["version"]?.intValue, v > (version ?? Int64.min) {
                document = call
                version = v
            }
            if case .array(let list)? = frame["presence"], !list.isEmpty { presence = list }
            return
        }
        // A fresh start: first connect, or the hub could not resume.
        document = frame["call"]?.objectValue ?? [:]
        epoch = frameEpoch
        version = frame["version"]?.intValue
        if case .array(let list)? = frame["presence"] { presence = list } else { presence = [] }
        emit(.snapshot, changed: [], conflicts: [])
    }

    /// True when a versioned frame is newer than the version held (and records it).
    private func isFresh(_ frame: JSONValue) -> Bool {
        guard let v = frame["version"]?.intValue else { return true }
        let frameEpoch = frame["epoch"]?.stringValue
        let newEpoch = frameEpoch != nil && epoch != nil && frameEpoch != epoch
        if !newEpoch, let version, v <= version { return false }
        if let frameEpoch { epoch = frameEpoch }
        version = v
        return true
    }

    private func stateChange(_ frame: JSONValue) {
        guard isFresh(frame) else { return }
        if case .object(let call)? = frame["call"] {
            document = call
        } else if document != nil {
            if let state = frame["state"] { document?["callState"] = state }
            if let v = version { document?["version"] = .int(v) }
        }
        var changed: [String] = []
        if case .array(let list)? = frame["changed"] { changed = list.compactMap(\.stringValue) }
        var conflicts: [JSONValue] = []
        if case .array(let list)? = frame["conflicts"] { conflicts = list }
        emit(.stateChange, changed: changed, conflicts: conflicts)
    }

    private func emit(_ kind: CallUpdate.Kind, changed: [String], conflicts: [JSONValue]) {
        stateFeed.send(CallUpdate(kind: kind, sessionId: sessionId, epoch: epoch, version: version ?? 0,
                                  document: document ?? [:], changed: changed, conflicts: conflicts))
    }

    private func qualityFrame(_ frame: JSONValue) {
        guard isFresh(frame) else { return }
        let sample = frame["quality"]?.objectValue ?? [:]
        if document != nil {
            var merged = document?["quality"]?.objectValue ?? [:]
            for (key, value) in sample where key != "ts" { merged[key] = value }
            document?["quality"] = .object(merged)
            if let v = version { document?["version"] = .int(v) }
        }
        var warnings: [String] = []
        if case .array(let list)? = frame["warnings"] { warnings = list.compactMap(\.stringValue) }
        qualityFeed.send(QualityUpdate(version: version ?? 0, quality: sample,
                                       aggregate: frame["aggregate"]?.objectValue ?? [:], warnings: warnings))
    }

    private func presenceFrame(_ frame: JSONValue) {
        var list = presence
        if case .array(let left)? = frame["left"] {
            let gone = Set(left.compactMap { $0["sub"]?.stringValue })
            list.removeAll { $0["sub"]?.stringValue.map(gone.contains) ?? false }
        }
        if case .array(let joined)? = frame["joined"] { list += joined }
        presence = list
    }

    private func settle(_ frame: JSONValue, ok: Bool) {
        if let id = frame["id"]?.stringValue {
            if let index = outbox.firstIndex(where: { $0.id == id }) {
                let entry = outbox.remove(at: index)
                if ok { entry.continuation.resume(returning: Ack(frame: frame)) } else {
                    entry.continuation.resume(throwing: SwitchboardError(frame: frame))
                }
                return
            }
            if pendingAuth.remove(id) != nil, ok { return }
        }
        if !ok { errorFeed.send(SwitchboardError(frame: frame)) }
    }

    // MARK: - URLs and ids

    /// The URL of the next attempt: resume point (and token, when it travels in the query).
    private func connectURL() -> String {
        var params: [(String, String)] = []
        if let epoch, let version {
            params.append(("epoch", epoch))
            params.append(("since", String(version)))
        }
        if tokenPlacement == .queryParameter, let token { params.append(("token", token)) }
        let path = "ws/calls/" + Self.encode(sessionId)
        guard !params.isEmpty else { return baseURL + path }
        return baseURL + path + "?" + params.map { $0.0 + "=" + Self.encode($0.1) }.joined(separator: "&")
    }

    private func requestHeaders() -> [String: String] {
        guard tokenPlacement == .authorizationHeader, let token else { return [:] }
        return ["Authorization": "Bearer " + token]
    }

    private func nextId() -> String {
        idCounter += 1
        return "\(idPrefix)-\(idCounter)"
    }

    private static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// `http(s)://` → `ws(s)://`, query and fragment dropped, always ending in `/`.
    static func webSocketBase(_ url: String) -> String {
        var text = url
        if let cut = text.firstIndex(where: { $0 == "?" || $0 == "#" }) { text = String(text[..<cut]) }
        let lower = text.lowercased()
        if lower.hasPrefix("http://") { text = "ws://" + text.dropFirst(7) }
        if lower.hasPrefix("https://") { text = "wss://" + text.dropFirst(8) }
        return text.hasSuffix("/") ? text : text + "/"
    }
}

/// An attempt whose upgrade was not answered within the open timeout.
struct OpenTimedOut: Error {}

/// Resumes a continuation once, from whichever of several tasks gets there first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {  // `continuation` only under `lock`
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }

    /// Resumes with `value`; false when already resumed.
    func resume(returning value: T) -> Bool {
        guard let c = take() else { return false }
        c.resume(returning: value)
        return true
    }

    /// Resumes with `error`; false when already resumed.
    func resume(throwing error: any Error) -> Bool {
        guard let c = take() else { return false }
        c.resume(throwing: error)
        return true
    }

    private func take() -> CheckedContinuation<T, any Error>? {
        lock.withLock {
            defer { continuation = nil }
            return continuation
        }
    }
}
