import Auth
import CallState
import JSONCodec
import Logging
import Providers
import Store

/// The reactor's state: every session, its subscribers, and the rules for
/// turning inputs into frames.
///
/// Confined to the one libwebsockets service thread (DESIGN.md "Threading"):
/// nothing here locks, and nothing here may be touched from another thread.
/// The transport calls in; frames go out through `Subscriber.deliver`.
public final class Hub {
    public let config: HubConfig
    let logger: Logger
    let frames: FrameBuilder
    let mergeConfig: MergeConfig
    var sessions: [String: SessionChannel] = [:]
    /// Provider call ids (CallSid, conversation_id, channelName, …) → session.
    var sessionsByProviderCallId: [String: String] = [:]
    let webhooks: Webhooks
    /// Generic / Asterisk `v1` signatures and the target each was used on
    /// (`limits.maxRememberedSignatures`).
    let signatureMemory: SignatureMemory
    /// `server.trustedProxies`, parsed.
    let trustedProxies: [CIDR]
    /// Verifies every bearer token (§5).
    public let verifier: TokenVerifier
    let dashboard: DashboardFeed
    /// Sessions holding a quality frame back for `quality.intervalMs`.
    var qualityPending: Set<String> = []
    /// Everything `GET /metrics` reports.
    public let metrics = Metrics()
    /// Counters bumped on every input, resolved once per label value:
    /// `Metrics.increment` renders and hashes its labels on each call.
    private var inputCounters: [SourceKind: Metrics.Counter] = [:]
    private var webhookOKCounters: [String: Metrics.Counter] = [:]
    /// The journal; nil with `store.kind` memory (tests), where inputs apply at once.
    public var journal: JournalWriter? { didSet { journalAttached() } }
    /// The cluster log (`store.kind` redis, Hub+Cluster.swift); then `journal` is nil.
    public var cluster: ClusterState?
    /// The call archive's reactor side (PROTOCOL.md §12, `Hub+History.swift`).
    let history = HistoryState()
    /// Outbound webhooks (PROTOCOL.md §11); nil without `webhooks.endpoints`.
    var outbound: OutboundWebhooks?
    /// Devices and push (PROTOCOL.md §10, Hub+Push.swift).
    let push: PushService
    var pendingInputs: [Int: PendingInput] = [:]
    /// `limits.maxMetadataKeys`, `maxMetadataValueBytes`, `maxDocumentBytes`.
    let growthLimits: GrowthLimits
    /// Per session: what admitted, uncommitted inputs may add (`GrowthLimits`).
    var growthPending: [String: GrowthLimits.Pending] = [:]
    /// HTTP writes per token (`limits.httpWritesPerSecond`, `httpWriteBurst`).
    let httpWriteLimiter: RateLimiter
    var nextJournalToken = 0
    /// False after a failed commit, until one succeeds: `/readyz` reports it.
    public internal(set) var storeHealthy = true
    private var lastRetentionCheck: Int64 = 0
    /// Long-poll waiters by session, and the session of each waiting exchange.
    var longPolls: [String: [LongPoll]] = [:]
    var longPollSessions: [Int: String] = [:]
    /// Completes an HTTP request answered later (long-poll, journal commit):
    /// set by the transport to its exchange table.
    public var deliverResponse: (Int, HTTPResponse) -> Void = { _, _ in }
    /// Gauges only the transport knows (connections by endpoint), read at scrape time.
    public var transportGauges: () -> [(String, [(String, String)], Double)] = { [] }
    /// Set on SIGTERM: writes are refused with 503 and `/readyz` fails.
    public private(set) var draining = false

    /// - Parameters:
    ///   - frameHeadroom: spare bytes the transport needs before each payload (`LWS_PRE`).
    /// - Throws: `KeyError` naming the `auth.*` key that cannot be used.
    public init(config: HubConfig, frameHeadroom: Int, logger: Logger) throws(KeyError) {
        self.verifier = try TokenVerifier(hs256Secret: config.auth.hs256Secret.map { Array($0.utf8) },
                                          publicKeysPEM: config.auth.publicKeys, audience: config.auth.audience,
                                          maxTtlSec: config.auth.maxTtlSec)
        self.config = config
        self.trustedProxies = config.server.trustedProxies.compactMap(CIDR.init)
        self.logger = logger
        self.frames = FrameBuilder(headroom: frameHeadroom)
        var merge = MergeConfig()
        merge.maxFutureSkewMs = Int64(config.merge.maxFutureSkewMs)
        merge.conflictWindowMs = Int64(config.merge.conflictWindowMs)
        merge.pendingWindowMs = Int64(config.merge.pendingWindowMs)
        merge.timelineEntries = config.retention.timelineEntries
        self.mergeConfig = merge
        self.webhooks = Webhooks(secrets: config.providerSecrets)
        self.signatureMemory = SignatureMemory(capacity: config.limits.maxRememberedSignatures)
        self.growthLimits = GrowthLimits(maxMetadataKeys: config.limits.maxMetadataKeys,
                                         maxMetadataValueBytes: config.limits.maxMetadataValueBytes,
                                         maxDocumentBytes: config.limits.maxDocumentBytes)
        self.httpWriteLimiter = RateLimiter(perSecond: Double(config.limits.httpWritesPerSecond),
                                            burst: Double(config.limits.httpWriteBurst))
        self.dashboard = DashboardFeed(intervalMs: config.dashboard.intervalMs)
        self.push = try PushService(settings: config.push)
        Hub.describeMetrics(metrics)
        Hub.describePushMetrics(metrics)
        if !config.webhooks.endpoints.isEmpty {
            outbound = OutboundWebhooks(settings: config.webhooks, ready: config.store.kind != "sqlite")
            startOutbound()
        }
    }

    static func describeMetrics(_ m: Metrics) {
        ProcessMetrics.describe(m)
        defer { exportKnownSeries(m) }
        m.describe("switchboard_connections", type: "gauge", "open WebSocket connections by endpoint")
        m.describe("switchboard_http_connections", type: "gauge",
                   "open connections that have carried an HTTP request (keep-alive webhook pools, upgraded WebSockets)")
        m.describe("switchboard_sessions", type: "gauge", "sessions in memory by callState")
        m.describe("switchboard_frames_sent_total", type: "counter", "WebSocket frames written")
        m.describe("switchboard_bytes_sent_total", type: "counter", "WebSocket payload bytes written")
        m.describe("switchboard_ws_writes_total", type: "counter",
                   "writes (send calls) that carried WebSocket frames; frames_sent_total over this is frames per send")
        m.describe("switchboard_slow_consumer_closes_total", type: "counter", "subscribers closed with 4008")
        m.describe("switchboard_frames_conflated_total", type: "counter", "queued frames superseded by a newer one before sending")
        m.describe("switchboard_webhook_requests_total", type: "counter", "provider webhooks by provider and outcome")
        m.describe("switchboard_http_writes_limited_total", type: "counter",
                   "HTTP writes refused with 429 for limits.httpWritesPerSecond")
        m.describe("switchboard_signature_failures_total", type: "counter", "webhooks refused for a bad or stale signature")
        m.describe("switchboard_merge_conflicts_total", type: "counter", "merge conflicts by rule (PROTOCOL.md 2.4)")
        m.describe("switchboard_quality_mos", type: "histogram", "MOS of accepted quality samples")
        m.describe("switchboard_calls_total", type: "counter", "sessions created")
        m.describe("switchboard_calls_answered_total", type: "counter", "sessions that reached a connected state")
        m.describe("switchboard_inputs_total", type: "counter", "inputs applied by source kind")
        m.describe("switchboard_journal_commit_seconds", type: "histogram", "journal commit latency")
        m.describe("switchboard_journal_bytes", type: "gauge", "size of the journal's database file")
        m.describe("switchboard_journal_wal_bytes", type: "gauge", "size of the journal's WAL file")
        m.describe("switchboard_journal_last_checkpoint_age_seconds", type: "gauge",
                   "seconds since a checkpoint last copied the whole WAL into the database")
        m.describe("switchboard_journal_last_backup_age_seconds", type: "gauge",
                   "seconds since `switchboard journal backup` last completed (+Inf: never)")
    }

    /// `GET /metrics` text.
    public func renderMetrics() -> String {
        var byState: [String: Double] = [:]
        for channel in sessions.values {
            byState[channel.engine.document.json["callState"]?.stringValue ?? "idle", default: 0] += 1
        }
        let sessionGauges = byState.keys.sorted().map { ("switchboard_sessions", [("callState", $0)], byState[$0]!) }
        let journalGauges = journal?.health()?.gauges(now: WallClock.nowMs()) ?? []
        return metrics.render(gauges: ProcessMetrics.gauges() + transportGauges() + sessionGauges + journalGauges + outboundGauges())
    }

    /// Zero-valued series for the label sets known at start, so `rate()` and
    /// alerts see 0, not "no data", before the first event of each kind.
    static func exportKnownSeries(_ m: Metrics) {
        for name in ["switchboard_frames_sent_total", "switchboard_bytes_sent_total", "switchboard_ws_writes_total",
                     "switchboard_slow_consumer_closes_total", "switchboard_frames_conflated_total",
                     "switchboard_calls_total", "switchboard_calls_answered_total"] {
            _ = m.counter(name)
        }
        for provider in ["agora", "asterisk", "elevenlabs", "generic", "telnyx", "twilio"] {
            _ = m.counter("switchboard_webhook_requests_total", [("provider", provider), ("outcome", "ok")])
            _ = m.counter("switchboard_signature_failures_total", [("provider", provider)])
        }
        for rule in ["concurrent", "terminal", "tie"] { _ = m.counter("switchboard_merge_conflicts_total", [("rule", rule)]) }
        for kind in ["backend", "client", "provider"] { _ = m.counter("switchboard_inputs_total", [("sourceKind", kind)]) }
    }

    /// Number of sessions held in memory.
    public var sessionCount: Int { sessions.count }

    /// Starts draining: later writes get 503, `/readyz` fails.
    public func beginDrain() { draining = true }

    // MARK: - Sessions

    func channel(_ sessionId: String) -> SessionChannel {
        if let existing = sessions[sessionId] { return existing }
        metrics.increment("switchboard_calls_total")
        return createChannel(sessionId, epoch: cluster.map { firstEpoch(sessionId, $0) } ?? Hub.newEpoch())
    }

    func createChannel(_ sessionId: String, epoch: String) -> SessionChannel {
        let engine = CallSession(sessionId: sessionId, epoch: epoch, config: mergeConfig)
        let created = SessionChannel(engine: engine, replayFrames: config.retention.replayFrames)
        sessions[sessionId] = created
        return created
    }

    /// A fresh epoch: it only has to differ from every earlier epoch of the
    /// same session id, so 64 random bits are plenty.
    static func newEpoch() -> String {
        var rng = SystemRandomNumberGenerator()
        let value = rng.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: - Subscriptions

    /// Subscribes and sends the first frame in the same reactor turn, so no
    /// change can fall between the snapshot and the subscription (§3.2).
    /// - Parameters:
    ///   - resume: the `(epoch, since)` the client holds, if it is resuming.
    public func subscribe(_ subscriber: Subscriber, to sessionId: String, identity: ClientIdentity,
                          resume: (epoch: String, since: Int64)? = nil, now: Int64 = WallClock.nowMs()) {
        let channel = channel(sessionId)
        cluster?.presenceDirty = true
        if let joined = channel.presence.join(identity, at: now) {
            channel.sendOutOfBand(frames.presence(sessionId, joined: [joined], left: []))
        }
        channel.add(subscriber)
        pushSubscribed(channel, sub: identity.sub)
        if let resume, resume.epoch == channel.engine.epoch,
           let missed = channel.replay.since(resume.since) {
            subscriber.deliver(frames.make(.snapshot, version: resume.since, [
                "type": "snapshot",
                "sessionId": .string(sessionId),
                "epoch": .string(channel.engine.epoch),
                "version": .int(resume.since),
                "recovered": true,
                "presence": channel.presence.json,
            ]))
            for frame in missed { subscriber.deliver(frame) }
            return
        }
        subscriber.deliver(frames.snapshot(channel, recovered: false))
    }

    /// Removes a subscriber (connection closed); announces the leave when it
    /// was that user's last connection to the session.
    public func unsubscribe(_ subscriber: Subscriber, from sessionId: String, identity: ClientIdentity,
                            now: Int64 = WallClock.nowMs()) {
        guard let channel = sessions[sessionId] else { return }
        channel.remove(subscriber)
        cluster?.presenceDirty = true
        if let left = channel.presence.leave(identity, at: now) {
            channel.sendOutOfBand(frames.presence(sessionId, joined: [], left: [left]))
        }
    }

    // MARK: - Inputs

    /// Applies one validated input to a session and fans out what changed.
    /// Callers go through `accept`, which journals first.
    @discardableResult
    func submit(_ decoded: DecodedInput, to sessionId: String, now: Int64 = WallClock.nowMs()) -> InputOutcome {
        let channel = channel(sessionId)
        let outcome = channel.engine.apply(decoded.input, now: now)
        recordQuality(decoded.input, outcome, on: channel)
        if !outcome.duplicate {
            let kind = decoded.input.sourceKind
            Hub.cached(&inputCounters, kind) {
                metrics.counter("switchboard_inputs_total", [("sourceKind", kind.rawValue)])
            }.add()
        }
        publish(outcome, on: channel, now: now)
        if outbound != nil { outboundApplied(outcome, on: channel, origin: { InputCodec.encode(decoded.input) }, now: now) }
        if outcome.stateChanged { pushAfterApply(outcome, on: channel, now: now) }
        return InputOutcome(outcome: outcome, ignored: decoded.ignored + outcome.ignored)
    }

    /// Counts one webhook request answered `ok` for `provider`.
    func countWebhookOK(_ provider: String) {
        Hub.cached(&webhookOKCounters, provider) {
            metrics.counter("switchboard_webhook_requests_total", [("provider", provider), ("outcome", "ok")])
        }.add()
    }

    private static func cached<Key: Hashable>(_ cache: inout [Key: Metrics.Counter], _ key: Key,
                                              _ resolve: () -> Metrics.Counter) -> Metrics.Counter {
        if let counter = cache[key] { return counter }
        let counter = resolve()
        cache[key] = counter
        return counter
    }

    /// Fans out what one accepted change produced: a `state_change` at once;
    /// a `quality` frame at most once per `quality.intervalMs` (the trailing
    /// one is sent by `runTimers`, so the last sample always reaches clients);
    /// a dashboard row at the next dashboard flush.
    func publish(_ outcome: ApplyOutcome, on channel: SessionChannel, now: Int64) {
        let sessionId = channel.engine.sessionId
        if outcome.stateChanged {
            channel.broadcast(frames.stateChange(channel.engine, outcome))
            channel.lastQualityFrameAt = now
            qualityPending.remove(sessionId)
        } else if outcome.qualityChanged {
            if now - channel.lastQualityFrameAt >= Int64(config.quality.intervalMs) {
                sendQuality(channel, now: now)
            } else {
                qualityPending.insert(sessionId)
            }
        }
        if outcome.stateChanged || outcome.qualityChanged {
            dashboard.markChanged(sessionId)
            wakeLongPolls(sessionId)
            markForArchive(channel)
        }
        if outcome.changed.contains("answeredAt") { metrics.increment("switchboard_calls_answered_total") }
        if outcome.qualityChanged, let mos = channel.engine.quality.latest?.mos {
            metrics.observe("switchboard_quality_mos", mos, bounds: [1, 2, 2.5, 3, 3.1, 3.6, 4, 4.3, 4.5])
        }
        for conflict in outcome.conflicts {
            metrics.increment("switchboard_merge_conflicts_total", [("rule", conflict.json["rule"]?.stringValue ?? "")])
            var event = conflict.json.objectValue ?? [:]
            event["type"] = "conflict"
            event["sessionId"] = .string(sessionId)
            dashboard.add(event: .object(event))
        }
    }

    func sendQuality(_ channel: SessionChannel, now: Int64) {
        channel.lastQualityFrameAt = now
        qualityPending.remove(channel.engine.sessionId)
        channel.broadcast(frames.quality(channel.engine))
    }

    /// What a WebSocket message produced for its sender.
    public struct MessageResult {
        /// Frames for the sender only (`ack`, `error`, `pong`).
        public var replies: [Frame]
        /// Whether the message counts against `limits.maxErrorsPerMinute`.
        public var isError: Bool
        /// Set by a successful `auth` message: the connection's new identity.
        public var refreshed: ClientIdentity?
    }

    /// Handles one client message (§3.3). `sessionId` is nil on the dashboard
    /// stream, where only `ping` (and `auth`) make sense.
    /// - Parameters:
    ///   - reply: delivers replies that come after the journal commit (`ack`).
    public func handleMessage(_ bytes: [UInt8], sessionId: String?, identity: ClientIdentity,
                              now: Int64 = WallClock.nowMs(), reply: @escaping (Frame) -> Void) -> MessageResult {
        let message: JSONValue
        do { message = try JSONCodec.parse(bytes) } catch {
            return failure(nil, InputError(code: "invalid_json", message: "message is not valid JSON"))
        }
        guard case .object = message else {
            return failure(nil, .invalid("message must be a JSON object"))
        }
        let id = message["id"]
        guard let type = message["type"]?.stringValue else {
            return failure(id, .invalid("message needs a string \"type\""))
        }
        do {
            switch type {
            case "ping":
                return MessageResult(replies: [frames.pong(id: id)], isError: false)
            case "auth":
                guard let token = message["token"]?.stringValue else { throw InputError.invalid("auth needs a token") }
                let fresh: ClientIdentity
                do { fresh = ClientIdentity(claims: try verifier.verify(token, nowMs: now)) } catch {
                    throw InputError(code: error.code, message: error.message)
                }
                guard fresh.sub == identity.sub, fresh.role == identity.role,
                      sessionId.map(fresh.canRead) ?? fresh.role.canWatchDashboard else {
                    throw InputError(code: "forbidden", message: "a refreshed token must keep the same sub, role and grant")
                }
                let version = sessionId.flatMap { sessions[$0]?.engine.version } ?? 0
                var result = MessageResult(replies: id.map { [frames.ack(id: $0, version: version)] } ?? [],
                                           isError: false)
                result.refreshed = fresh
                return result
            case "report", "quality":
                guard identity.role.canReport else {
                    throw InputError(code: "forbidden", message: "\(type) needs role client")
                }
                guard let sessionId else { throw InputError(code: "forbidden", message: "\(type) needs a session channel") }
                guard !draining else { throw InputError(code: "draining", message: "hub is shutting down") }
                let decoded = type == "report"
                    ? try InputDecoder.report(message, identity: identity, receivedAt: now)
                    : try InputDecoder.quality(message, identity: identity, receivedAt: now)
                let frames = self.frames
                try accept(decoded, to: sessionId, now: now) { result in
                    switch result {
                    case .success(let outcome):
                        if let id { reply(frames.ack(id: id, outcome: outcome)) }
                    case .failure:
                        reply(frames.error(id: id, code: "store_unavailable", message: "could not store the input; retry"))
                    }
                }
                return MessageResult(replies: [], isError: false)
            default:
                throw InputError(code: "unknown_type", message: "unknown message type \"\(type)\"")
            }
        } catch let error as InputError {
            return failure(id, error)
        } catch {
            return failure(id, .invalid("\(error)"))
        }
    }

    func failure(_ id: JSONValue?, _ error: InputError) -> MessageResult {
        MessageResult(replies: [frames.error(id: id, code: error.code, message: error.message)], isError: true)
    }

    // MARK: - Auth

    /// The `token_expiring` frame (§5), sent 60 s before `exp`.
    public func tokenExpiring(inMs: Int64) -> Frame { frames.tokenExpiring(inMs: inMs) }

    /// The verified identity behind `Authorization: Bearer`, a `bearer.<token>`
    /// entry of `Sec-WebSocket-Protocol` (browsers), or `?token=`.
    public func authenticate(headers: [String: String], query: [String: String],
                             now: Int64 = WallClock.nowMs()) throws(AuthError) -> ClientIdentity {
        guard let token = BearerToken.extract(authorization: headers["authorization"],
                                              subprotocols: headers["sec-websocket-protocol"], query: query) else {
            throw .missing
        }
        return ClientIdentity(claims: try verifier.verify(token, nowMs: now))
    }

    // MARK: - Reads

    /// The merged document of a session, or nil if the hub has never seen it.
    /// The document includes `presence`: who is watching right now (§3.2).
    public func document(_ sessionId: String) -> (json: JSONValue, epoch: String, version: Int64)? {
        guard let channel = sessions[sessionId] else { return nil }
        var json = channel.engine.document.json
        if case .object(var members) = json {
            members["presence"] = channel.presence.json
            json = .object(members)
        }
        return (json, channel.engine.epoch, channel.engine.version)
    }

    // MARK: - Timers

    /// Runs every timed change that is due: engine deadlines (syncStatus
    /// flips, quality warnings clearing), held-back quality frames, the
    /// dashboard flush. Called from the transport's timer.
    public func runTimers(now: Int64) {
        if let cluster {
            // In a cluster only the log changes documents: ticks go through it.
            proposeClusterTicks(cluster, now: now)
        } else {
            for channel in sessions.values {
                guard let deadline = channel.engine.nextDeadline(), deadline <= now,
                      let outcome = channel.engine.tick(now: now) else { continue }
                publish(outcome, on: channel, now: now)
                if outbound != nil { outboundTicked(outcome, on: channel, now: now) }
            }
        }
        runPush(now: now)
        if outbound != nil { runOutbound(now: now) }
        for sessionId in qualityPending {
            guard let channel = sessions[sessionId] else { qualityPending.remove(sessionId); continue }
            if now - channel.lastQualityFrameAt >= Int64(config.quality.intervalMs) { sendQuality(channel, now: now) }
        }
        if dashboard.isDue(now) { flushDashboard(now: now) }
        if !longPolls.isEmpty { expireLongPolls(now: now) }
        runHistory(now: now)
        if now - lastRetentionCheck >= 1000 {
            lastRetentionCheck = now
            enforceRetention(now: now)
            httpWriteLimiter.forgetIdle(now: now)
        }
    }

    // MARK: - Dashboard

    /// Adds a dashboard subscriber and sends it the `summary` of live sessions.
    public func subscribeDashboard(_ subscriber: Subscriber, now: Int64 = WallClock.nowMs()) {
        dashboard.subscribers[ObjectIdentifier(subscriber)] = subscriber
        let rows = sessions.keys.sorted().compactMap {
            sessions[$0].map { DashboardFeed.row($0.engine, now: now, staleAfterMs: staleAfterMs) }
        }
        subscriber.deliver(frames.make(.dashboard, version: 0, [
            "type": "summary", "at": .int(now), "sessions": .array(rows), "staleAfterMs": .int(staleAfterMs),
        ]))
    }

    public func unsubscribeDashboard(_ subscriber: Subscriber) {
        dashboard.subscribers.removeValue(forKey: ObjectIdentifier(subscriber))
    }

    /// One message for every dashboard: the changed rows and pending events
    /// as a JSON array (a batch), encoded once.
    func flushDashboard(now: Int64) {
        let pending = dashboard.drain(now: now)
        let rows = pending.sessions.compactMap {
            sessions[$0].map { DashboardFeed.rowMembers($0.engine, now: now, staleAfterMs: staleAfterMs) }
        }
        guard !rows.isEmpty || !pending.events.isEmpty else { return }
        let frame = frames.batch(rows: rows, events: pending.events)
        for subscriber in dashboard.subscribers.values { subscriber.deliver(frame) }
    }

    /// Rows of the sessions in memory, filtered like `GET /api/calls?state=&grade=`.
    public func sessionRows(state: String? = nil, grade: String? = nil, stale: Bool? = nil,
                            now: Int64 = WallClock.nowMs()) -> [JSONValue] {
        sessions.keys.sorted().compactMap { id -> JSONValue? in
            guard let engine = sessions[id]?.engine else { return nil }
            let row = DashboardFeed.row(engine, now: now, staleAfterMs: staleAfterMs)
            if let state, row["callState"]?.stringValue != state { return nil }
            if let grade, row["quality"]?["grade"]?.stringValue != grade { return nil }
            if let stale, row["stale"]?.boolValue != stale { return nil }
            return row
        }
    }

    /// `retention.staleSec` in ms: a live call silent this long is `stale`.
    var staleAfterMs: Int64 { Int64(config.retention.staleSec) * 1000 }
}
