import CallState
import Crypto
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Outbound webhook delivery (PROTOCOL.md §11), on the reactor thread.
///
/// Every delivery (one event for one endpoint) is a row of the outbox; this
/// type holds their state in memory, decides what to send next and what a
/// response means, and queues the row changes it makes into `pendingWrite`,
/// which the hub hands to the journal writer once per reactor turn.
///
/// Order: per (session, endpoint) only the oldest pending delivery may be in
/// flight or waiting for a retry; the next one waits for its 2xx (or for it
/// to become a dead letter). Sessions are independent, up to
/// `webhooks.concurrency` requests in flight per endpoint.
final class OutboundWebhooks {
    struct Endpoint {
        let config: HubConfig.WebhookEndpoint
        let all: Bool
        var disabled = false
        var inFlight = 0
        /// Pending deliveries' seqs by session, oldest first.
        var queues: [String: [Int64]] = [:]

        func wants(_ type: String) -> Bool { all || config.events.contains(type) }
    }

    let settings: HubConfig.Webhooks
    var endpoints: [Endpoint]
    private var endpointIndex: [String: Int] = [:]
    /// Every delivery known, by seq (delivered ones are pruned past `keepDelivered`).
    private(set) var deliveries: [Int64: OutboxDelivery] = [:]
    private var deliveredOrder: [Int64] = []
    private let keepDelivered = 10_000
    private var inFlight: Set<Int64> = []
    private var nextSeq: Int64 = 1
    /// Row changes not yet handed to the journal.
    var pendingWrite = OutboxWrite()
    /// False while the stored outbox is being read at start (sqlite): nothing is sent before.
    var ready: Bool
    let client: WebhookClient
    private var rng = SystemRandomNumberGenerator()
    /// Outcome counters and log lines are the hub's; these callbacks reach them.
    var onOutcome: (_ endpoint: String, _ outcome: String) -> Void = { _, _ in }
    var onDisabled: (_ endpoint: String, _ status: Int) -> Void = { _, _ in }
    var onDeadLetter: (_ delivery: OutboxDelivery) -> Void = { _ in }

    init(settings: HubConfig.Webhooks, ready: Bool) {
        self.settings = settings
        self.endpoints = settings.endpoints.map { Endpoint(config: $0, all: $0.events.contains("*")) }
        for (index, endpoint) in endpoints.enumerated() { endpointIndex[endpoint.config.url] = index }
        self.ready = ready
        self.client = WebhookClient(caFile: settings.caFile)
    }

    /// Whether any endpoint wants `type`.
    func wants(_ type: String) -> Bool { endpoints.contains { $0.wants(type) } }

    // MARK: Events in

    /// Events made before the stored outbox was read, with the hub time of
    /// what caused them (see `load`).
    private var early: [(event: OutboundEvent, at: Int64)] = []
    /// `id\0endpoint` of every stored delivery, while `load` queues the
    /// events made before it (live events are new by construction).
    private var known: Set<String> = []

    /// Addresses an event to every endpoint that wants it and queues the rows.
    /// A delivery already known is skipped (a replayed input names its events
    /// the same). Before `load`, events wait in memory.
    /// - Parameter causedAt: hub time of the input (or timer) behind it.
    func enqueue(_ event: OutboundEvent, causedAt: Int64, now: Int64) {
        guard ready else {
            early.append((event, causedAt))
            return
        }
        let body = event.body
        for index in endpoints.indices where endpoints[index].wants(event.type) {
            let url = endpoints[index].config.url
            if !known.isEmpty, known.contains(event.id + "\u{0}" + url) { continue }
            let delivery = OutboxDelivery(id: event.id, endpoint: url, seq: nextSeq, sessionId: event.sessionId,
                                          type: event.type, version: event.version, createdAt: now, body: body,
                                          nextAttemptAt: now)
            nextSeq += 1
            deliveries[delivery.seq] = delivery
            pendingWrite.inserts.append(delivery)
            endpoints[index].queues[event.sessionId, default: []].append(delivery.seq)
            startHead(endpointIndex: index, sessionId: event.sessionId, now: now)
        }
    }

    /// Takes in the stored outbox at start: pending rows are queued again (in
    /// seq order), rows for endpoints no longer configured become dead
    /// letters. Then the events made meanwhile (replayed journal entries,
    /// timers) are queued, except those caused before `enabledAt` (inputs
    /// journaled before webhooks were configured owe nothing); the ones
    /// already stored are recognised by id and skipped.
    func load(_ stored: OutboxLoad, now: Int64) {
        for var row in stored.deliveries {
            known.insert(row.id + "\u{0}" + row.endpoint)
            if row.status == .pending, endpointIndex[row.endpoint] == nil {
                row.status = .failed
                row.lastError = "endpoint no longer configured"
                pendingWrite.updates.append(row)
            }
            place(row)
            nextSeq = max(nextSeq, row.seq + 1)
        }
        ready = true
        let waiting = early
        early = []
        for (event, at) in waiting where at >= stored.enabledAt { enqueue(event, causedAt: at, now: now) }
        known = []
        pump(now: now)
    }

    private func place(_ row: OutboxDelivery) {
        deliveries[row.seq] = row
        if row.status == .pending, let index = endpointIndex[row.endpoint] {
            endpoints[index].queues[row.sessionId, default: []].append(row.seq)
        } else if row.status == .delivered {
            deliveredOrder.append(row.seq)
        }
    }

    // MARK: Sending

    /// Starts every head that is due, within each endpoint's concurrency.
    func pump(now: Int64) {
        guard ready else { return }
        for index in endpoints.indices where !endpoints[index].disabled {
            for sessionId in Array(endpoints[index].queues.keys) {
                guard endpoints[index].inFlight < settings.concurrency else { break }
                startHead(endpointIndex: index, sessionId: sessionId, now: now)
            }
        }
    }

    /// Sends the session's oldest pending delivery to this endpoint if it is
    /// due, not already in flight, and a slot is free.
    private func startHead(endpointIndex index: Int, sessionId: String, now: Int64) {
        guard ready, !endpoints[index].disabled, endpoints[index].inFlight < settings.concurrency,
              let head = endpoints[index].queues[sessionId]?.first, !inFlight.contains(head),
              let delivery = deliveries[head], delivery.nextAttemptAt <= now else { return }
        inFlight.insert(head)
        endpoints[index].inFlight += 1
        let endpoint = endpoints[index].config
        client.send(WebhookClient.Request(
            token: head, url: endpoint.url,
            headers: [
                "Content-Type: application/json",
                "X-Switchboard-Signature: " + OutboundWebhooks.signature(secret: endpoint.secret, body: delivery.body,
                                                                         unixSeconds: now / 1000),
                "X-Switchboard-Event-Id: " + delivery.id,
                "Expect:",
            ],
            body: delivery.body, timeoutMs: settings.timeoutMs))
    }

    /// `t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>`: the scheme the hub
    /// itself verifies on `/webhooks/generic` (Providers/SignatureHeader.swift).
    static func signature(secret: String, body: [UInt8], unixSeconds: Int64) -> String {
        let t = String(unixSeconds)
        let mac = Crypto.hmacSHA256(key: Array(secret.utf8), parts: [Array(t.utf8), [UInt8(ascii: ".")], body])
        return "t=\(t),v1=\(Crypto.hex(mac))"
    }

    /// Applies the client's responses; returns true when anything changed.
    @discardableResult
    func processResponses(now: Int64) -> Bool {
        let responses = client.takeResponses()
        for response in responses { complete(response, now: now) }
        if !responses.isEmpty { pump(now: now) }
        return !responses.isEmpty
    }

    private func complete(_ response: WebhookClient.Response, now: Int64) {
        let seq = response.token
        guard inFlight.remove(seq) != nil, var delivery = deliveries[seq],
              let index = endpointIndex[delivery.endpoint] else { return }
        endpoints[index].inFlight -= 1
        delivery.attempts += 1
        let url = delivery.endpoint
        if (200..<300).contains(response.status) {
            delivery.status = .delivered
            delivery.lastError = nil
            finishHead(&delivery, index: index)
            deliveredOrder.append(seq)
            pruneDelivered()
            onOutcome(url, "delivered")
        } else if response.status == 410 {
            delivery.status = .failed
            delivery.lastError = "410 Gone: endpoint disabled"
            finishHead(&delivery, index: index)
            if !endpoints[index].disabled {
                endpoints[index].disabled = true
                onDisabled(url, 410)
            }
            onOutcome(url, "gone")
            onDeadLetter(delivery)
        } else {
            delivery.lastError = response.error.map { "transport: \($0)" } ?? "HTTP \(response.status)"
            let tooOld = now - delivery.createdAt >= Int64(settings.maxAgeSec) * 1000
            if delivery.attempts >= settings.maxAttempts || tooOld {
                delivery.status = .failed
                finishHead(&delivery, index: index)
                onOutcome(url, "dead_letter")
                onDeadLetter(delivery)
            } else {
                delivery.nextAttemptAt = now + backoff(attempts: delivery.attempts)
                deliveries[seq] = delivery
                pendingWrite.updates.append(delivery)
                onOutcome(url, response.status == 0 ? "error" : "retry")
            }
        }
    }

    /// Records the head's final state and lets the session's next delivery go.
    private func finishHead(_ delivery: inout OutboxDelivery, index: Int) {
        deliveries[delivery.seq] = delivery
        pendingWrite.updates.append(delivery)
        var queue = endpoints[index].queues[delivery.sessionId] ?? []
        queue.removeAll { $0 == delivery.seq }
        endpoints[index].queues[delivery.sessionId] = queue.isEmpty ? nil : queue
    }

    private func pruneDelivered() {
        guard deliveredOrder.count > keepDelivered else { return }
        let excess = deliveredOrder.count - keepDelivered
        for seq in deliveredOrder.prefix(excess) { deliveries[seq] = nil }
        deliveredOrder.removeFirst(excess)
    }

    /// Exponential backoff with jitter: `backoffMs · 2^(attempts-1)`, capped
    /// at `maxBackoffMs`, then a random point in its upper half.
    func backoff(attempts: Int) -> Int64 {
        let base = Double(settings.backoffMs) * pow(2, Double(max(0, attempts - 1)))
        let capped = min(base, Double(settings.maxBackoffMs))
        let jitter = Double.random(in: 0.5...1.0, using: &rng)
        return Int64(capped * jitter)
    }

    // MARK: Admin

    /// Deliveries with `status` (all when nil), oldest first, at most `limit`.
    func list(status: OutboxStatus?, limit: Int) -> [OutboxDelivery] {
        var out: [OutboxDelivery] = []
        for seq in deliveries.keys.sorted() {
            guard let delivery = deliveries[seq] else { continue }
            if let status, delivery.status != status { continue }
            out.append(delivery)
            if out.count >= limit { break }
        }
        return out
    }

    enum RetryResult { case queued, notFound, alreadyDelivered }

    /// Queues the dead letters with this event id again (attempts from 0,
    /// due now) and re-enables their endpoints.
    func retry(id: String, now: Int64) -> RetryResult {
        let matches = deliveries.values.filter { $0.id == id }.sorted { $0.seq < $1.seq }
        guard !matches.isEmpty else { return .notFound }
        if matches.allSatisfy({ $0.status == .delivered }) { return .alreadyDelivered }
        for var delivery in matches where delivery.status == .failed {
            guard let index = endpointIndex[delivery.endpoint] else { continue }
            delivery.status = .pending
            delivery.attempts = 0
            delivery.createdAt = now
            delivery.nextAttemptAt = now
            deliveries[delivery.seq] = delivery
            pendingWrite.updates.append(delivery)
            endpoints[index].disabled = false
            var queue = endpoints[index].queues[delivery.sessionId] ?? []
            queue.append(delivery.seq)
            queue.sort()
            endpoints[index].queues[delivery.sessionId] = queue
        }
        pump(now: now)
        return .queued
    }

    // MARK: Metrics

    /// Pending deliveries, and the age of the oldest (ms).
    func depth(now: Int64) -> (pending: Int, oldestAgeMs: Int64) {
        var count = 0
        var oldest = now
        for index in endpoints.indices {
            for queue in endpoints[index].queues.values {
                count += queue.count
                if let first = queue.first, let delivery = deliveries[first] { oldest = min(oldest, delivery.createdAt) }
            }
        }
        return (count, now - oldest)
    }
}
