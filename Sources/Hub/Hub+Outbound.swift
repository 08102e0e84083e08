import CallState
import Store

/// Outbound webhooks (PROTOCOL.md §11): where the hub makes events, hands
/// outbox rows to the journal, and feeds delivery results back in. The
/// design (why an event is as durable as its input) is in docs/webhooks.md.
extension Hub {
    /// Lets the webhook client wake the service loop when responses are ready
    /// (the transport passes its `lws_cancel_service` wake-up).
    public func setOutboundWake(_ wake: @escaping @Sendable () -> Void) {
        outbound?.client.setWake(wake)
        push.client.setWake(wake)
    }

    func startOutbound() {
        guard let outbound else { return }
        outbound.onOutcome = { [metrics] endpoint, outcome in
            metrics.increment("switchboard_webhook_deliveries_total", [("endpoint", endpoint), ("outcome", outcome)])
            metrics.increment("switchboard_webhook_attempts_total", [("endpoint", endpoint)])
        }
        outbound.onDisabled = { [logger, metrics] endpoint, status in
            logger.error("webhook endpoint disabled", metadata: ["endpoint": "\(endpoint)", "status": "\(status)"])
            metrics.increment("switchboard_webhook_endpoints_disabled_total", [("endpoint", endpoint)])
        }
        outbound.onDeadLetter = { [logger] delivery in
            logger.warning("webhook dead letter", metadata: [
                "id": "\(delivery.id)", "endpoint": "\(delivery.endpoint)", "type": "\(delivery.type)",
                "attempts": "\(delivery.attempts)", "error": "\(delivery.lastError ?? "")",
            ])
        }
        metrics.describe("switchboard_webhook_deliveries_total", type: "counter",
                         "outbound webhook attempts by endpoint and outcome (delivered, retry, error, dead_letter, gone)")
        metrics.describe("switchboard_webhook_attempts_total", type: "counter", "outbound webhook requests answered or failed, by endpoint")
        metrics.describe("switchboard_webhook_endpoints_disabled_total", type: "counter", "endpoints disabled by 410 Gone")
        metrics.describe("switchboard_webhook_queue_depth", type: "gauge", "outbound deliveries pending (all endpoints)")
        metrics.describe("switchboard_webhook_oldest_undelivered_seconds", type: "gauge",
                         "age of the oldest pending outbound delivery")
    }

    /// Called when the journal writer is attached (sqlite): reads the stored
    /// outbox first thing on the writer, before any later commit.
    func journalAttached() {
        journal?.loadOutbox(enable: outbound != nil, now: WallClock.nowMs())
    }

    /// The events one applied input or tick owes, to the outbox.
    func outboundApplied(_ outcome: ApplyOutcome, on channel: SessionChannel, origin: () -> [UInt8], now: Int64) {
        guard let outbound else { return }
        let events = OutboundEvent.derive(outcome, engine: channel.engine, previousWarnings: channel.announcedWarnings,
                                          origin: origin, now: now)
        channel.announcedWarnings = channel.engine.quality.warnings
        for event in events where outbound.wants(event.type) { outbound.enqueue(event, causedAt: now, now: now) }
    }

    /// A timer's change (quality warnings clearing) names its events by the
    /// version and time it happened at: there is no input behind it.
    func outboundTicked(_ outcome: ApplyOutcome, on channel: SessionChannel, now: Int64) {
        outboundApplied(outcome, on: channel, origin: { Array("tick:\(outcome.version):\(now)".utf8) }, now: now)
    }

    /// Emits an event that is not derived from a merge (`push.needed`, §10):
    /// `data` is sent as is, `version` is the session's current one.
    /// - Parameter origin: what makes this event unique within the session
    ///   (same origin, same id: pass something stable to dedupe re-emits).
    public func emitOutbound(type: String, sessionId: String, data: JSONValue, origin: String,
                             now: Int64 = WallClock.nowMs()) {
        guard let outbound, outbound.wants(type) else { return }
        let epoch = sessions[sessionId]?.engine.epoch ?? ""
        let event = OutboundEvent(
            id: OutboundEvent.id(sessionId: sessionId, epoch: epoch, origin: Array(origin.utf8), type: type, index: 0),
            type: type, sessionId: sessionId, version: sessions[sessionId]?.engine.version ?? 0, ts: now, data: data)
        outbound.enqueue(event, causedAt: now, now: now)
        flushOutbound()
    }

    /// On the loop's wake-up: the stored outbox (once), then responses.
    func outboundBeforeCommits(now: Int64) {
        guard let outbound else { return }
        if !outbound.ready, let journal, let loaded = journal.takeOutboxLoad() {
            switch loaded {
            case .success(let stored):
                outbound.load(stored, now: now)
                logger.info("webhook outbox loaded", metadata: [
                    "deliveries": "\(stored.deliveries.count)",
                    "pending": "\(stored.deliveries.filter { $0.status == .pending }.count)",
                ])
            case .failure(let error):
                // Deliver what is made from now on; stored rows wait for the next start.
                logger.error("webhook outbox could not be read", metadata: ["error": "\(error.message)"])
                outbound.load(OutboxLoad(deliveries: [], enabledAt: now), now: now)
            }
        }
        outbound.processResponses(now: now)
        for error in journal?.takeOutboxErrors() ?? [] {
            logger.error("webhook outbox write failed", metadata: ["error": "\(error.message)"])
        }
    }

    /// From the timer: responses, due retries, and the rows to store.
    func runOutbound(now: Int64) {
        guard let outbound else { return }
        outboundBeforeCommits(now: now)
        outbound.pump(now: now)
        flushOutbound()
    }

    /// Hands the rows changed this turn to the journal writer: new events ride
    /// in the next commit (see docs/webhooks.md); without a journal they live
    /// in memory only.
    func flushOutbound() {
        guard let outbound, !outbound.pendingWrite.isEmpty else { return }
        let write = outbound.pendingWrite
        outbound.pendingWrite = OutboxWrite()
        journal?.outbox(write)
    }

    func outboundGauges() -> [(String, [(String, String)], Double)] {
        guard let outbound else { return [] }
        let depth = outbound.depth(now: WallClock.nowMs())
        return [
            ("switchboard_webhook_queue_depth", [], Double(depth.pending)),
            ("switchboard_webhook_oldest_undelivered_seconds", [], Double(depth.oldestAgeMs) / 1000),
        ]
    }

    // MARK: Admin API

    /// `GET /api/webhooks/deliveries?status=pending|failed|delivered&limit=`.
    func webhookDeliveries(_ req: HTTPRequest) -> HTTPResponse {
        var status: OutboxStatus?
        if let text = req.query["status"], !text.isEmpty {
            guard let parsed = OutboxStatus(rawValue: text) else {
                return .error(400, "bad_request", "status must be pending, failed or delivered")
            }
            status = parsed
        }
        var limit = 100
        if let text = req.query["limit"] {
            guard let value = Int(text), value >= 1 else { return .error(400, "bad_request", "limit must be a positive integer") }
            limit = min(value, 1000)
        }
        let rows = outbound?.list(status: status, limit: limit) ?? []
        return .json(200, ["deliveries": .array(rows.map { row in
            .object([
                "id": .string(row.id), "endpoint": .string(row.endpoint), "type": .string(row.type),
                "sessionId": .string(row.sessionId), "version": .int(row.version), "attempts": .int(Int64(row.attempts)),
                "status": .string(row.status.rawValue), "lastError": row.lastError.map { .string($0) } ?? .null,
                "nextAttemptAt": row.status == .pending ? .int(row.nextAttemptAt) : .null,
                "createdAt": .int(row.createdAt),
            ])
        })])
    }

    /// `POST /api/webhooks/deliveries/{id}/retry`: a dead letter goes back in
    /// its session's queue (202); unknown id 404; already delivered 409.
    func retryWebhookDelivery(_ id: String, now: Int64) -> HTTPResponse {
        guard let outbound else { return .error(404, "not_found", "no webhook delivery \(id)") }
        let result = outbound.retry(id: id, now: now)
        flushOutbound()
        switch result {
        case .queued: return .json(202, ["id": .string(id), "status": "pending"])
        case .notFound: return .error(404, "not_found", "no webhook delivery \(id)")
        case .alreadyDelivered: return .error(409, "already_delivered", "delivery \(id) was already answered 2xx")
        }
    }
}
