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
/// - Reconnects after a full-jitter exponential back-off (`Backoff`), and
///   resumes with `?epoch=E&since=V` from the last version applied: a
///   `recovered:true` snapshot keeps the document and the missed frames
///   follow; a `recovered:false` one starts the document over.
/// - Frames whose version is not above the one held are ignored.
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
    private var started = false
    private var stopped = false
    private var runner: Task<Void, Never>?
    private var heartbeat: Task<Void, Never>?
    private var lastMessageAtMs: Int64 = 0
    private var awaitingPong = false
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

    /// One open WebSocket and the task that writes to it in order.
    private struct Link {
        let serial: Int
        let connection: any WebSocketConnection
        let writer: AsyncStream<String>.Continuation
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
    ///   - backoff: reconnect delays.
    ///   - heartbeat: how often a `ping` is sent; a connection silent for a
    ///     whole interval after one is dropped and re-opened (half-open TCP
    ///     after sleep or a network change). Nil disables it.
    ///   - tokenPlacement: `Authorization` header (default) or `?token=`.
    ///   - maxOutbox: unacknowledged reports kept for re-sending.
    public init(baseURL: String, sessionId: String, token: String?, tokenProvider: TokenProvider? = nil,
                transport: any WebSocketTransport = DefaultWebSocketTransport(), backoff: Backoff = .default,
                heartbeat: Duration? = .seconds(30), tokenPlacement: TokenPlacement = .authorizationHeader,
                maxOutbox: Int = 500) {
        self.baseURL = Self.webSocketBase(baseURL)
        self.sessionId = sessionId
        self.token = token
        self.tokenProvider = tokenProvider
        self.transport = transport
        self.backoff = backoff
        self.heartbeatMs = heartbeat.map { Int($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? 0
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
                    await pause(backoff.delayMs(attempt: attempt, random: .random(in: 0..<1)), closeCode: nil)
                    continue
                }
                if stopped { return }
            }
            setStatus(.connecting(attempt: attempt))
            let connection: any WebSocketConnection
            do {
                connection = try await transport.connect(url: connectURL(), headers: requestHeaders())
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
        let opened = Self.nowMs()
        link = Link(serial: serial, connection: connection, writer: writer, openedAtMs: opened)
        lastMessageAtMs = opened
        awaitingPong = false
        setStatus(.open)
        startHeartbeat(serial: serial)
        // Reports not yet acknowledged go again with the same id (§2.3).
        for entry in outbox { writer.yield(entry.text) }

        var end = (1006, "connection lost")
        receiving: while true {
            let message: WebSocketMessage
            do { message = try await connection.receive() } catch { break }
            switch message {
            case .text(let text):
                lastMessageAtMs = Self.nowMs()
                awaitingPong = false
                handle(text)
            case .closed(let code, let reason):
                end = (code, reason)
                break receiving
            }
        }
        writer.finish()
        heartbeat?.cancel()
        heartbeat = nil
        link = nil
        pendingAuth = []
        if Self.nowMs() - opened >= Int64(backoff.stableMs) { attempt = 0 }
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
            await pause(backoff.delayMs(attempt: attempt, random: .random(in: 0..<1)), closeCode: code)
        case 4029:
            await pause(backoff.rateLimitedDelayMs(random: .random(in: 0..<1)), closeCode: code)
        default:
            await pause(backoff.delayMs(attempt: attempt, random: .random(in: 0..<1)), closeCode: code)
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
            await pause(backoff.delayMs(attempt: attempt, random: .random(in: 0..<1)), closeCode: nil)
        case 429?:
            await pause(backoff.rateLimitedDelayMs(random: .random(in: 0..<1)), closeCode: nil)
        default:
            await pause(backoff.delayMs(attempt: attempt, random: .random(in: 0..<1)), closeCode: nil)
        }
        return !stopped
    }

    private func pause(_ delayMs: Int, closeCode: Int?) async {
        attempt += 1
        setStatus(.reconnecting(attempt: attempt, delayMs: delayMs, closeCode: closeCode))
        try? await Task.sleep(for: .milliseconds(delayMs))
    }

    private func stop(_ final: ConnectionStatus) {
        guard !stopped else { return }
        stopped = true
        runner?.cancel()
        heartbeat?.cancel()
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

    private func beat(serial: Int) {
        guard let link, link.serial == serial else { return }
        if awaitingPong, Self.nowMs() - lastMessageAtMs >= Int64(heartbeatMs) {
            // Nothing from the hub for a whole interval: half-open TCP.
            link.connection.close(code: 4000, reason: "heartbeat timeout")
            return
        }
        awaitingPong = true
        send(JSONCodec.encodeString(.object(["type": "ping", "id": .string(nextId())])))
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
