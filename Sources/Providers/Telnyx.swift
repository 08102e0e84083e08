import CallState
import Crypto

/// Telnyx Call Control webhooks, API v2 (`/webhooks/telnyx`).
///
/// Signature: `telnyx-signature-ed25519` (base64) over
/// `"<telnyx-timestamp>|<body>"` with the account's Ed25519 public key;
/// `telnyx-timestamp` (s) within 5 minutes of now.
///
/// - `call.initiated` → `initiated`; `call.answered`, `call.bridged` → `connected`.
/// - `call.hangup` → by `hangup_cause`: `user_busy` → `busy`;
///   `no_answer`, `timeout` → `no_answer`; `call_rejected` → `declined`;
///   anything else (`normal_clearing`, …) → `ended`.
/// - any event whose payload has `call_quality_stats` also yields a quality
///   sample (see `qualitySample`).
/// - other event types: provider and ids only when they carry quality,
///   else ignored, no event.
///
/// ts is `data.occurred_at`; eventId `data.id`; `providerCallId` is
/// `payload.call_control_id`.
public enum Telnyx {
    static let toleranceSeconds: Int64 = 5 * 60

    static let hangupCauses: [String: CallStateValue] = [
        "user_busy": .busy, "no_answer": .noAnswer, "timeout": .noAnswer, "call_rejected": .declined,
    ]

    static func handle(_ request: WebhookRequest, publicKey: [UInt8], now: Int64) throws(WebhookError) -> WebhookResult {
        try request.requireJSONContentType()
        try verify(request, publicKey: publicKey, now: now)
        let body = try JSONValue.parseWebhookBody(request.body)
        guard let data = try body.object("data") else { throw .badRequest("data is required") }
        let eventType = try data.requiredString("event_type")
        let payload = try data.object("payload") ?? .object([:])
        let id = try data.string("id")
        var ts = now
        if let occurred = try data.string("occurred_at") {
            guard let ms = Timestamps.iso8601(occurred) else { throw .unprocessable("occurred_at is not an ISO 8601 time") }
            ts = ms
        }

        let state: CallStateValue?
        switch eventType {
        case "call.initiated": state = .initiated
        case "call.answered", "call.bridged": state = .connected
        case "call.hangup": state = hangupCauses[try payload.string("hangup_cause") ?? ""] ?? .ended
        default: state = nil
        }
        let quality = try qualitySample(payload, ts: ts)
        if state == nil && quality == nil { return WebhookResult(events: [], reply: .ok) }

        let callControlId = try payload.requiredString("call_control_id")
        var builder = UpdateBuilder(ts: ts, source: "telnyx", eventId: id)
        builder.set(.callState, state: state)
        builder.set(.provider, string: "telnyx")
        builder.set(.providerCallId, string: callControlId)
        switch try payload.string("direction") {
        case "incoming"?, "inbound"?: builder.set(.direction, string: "inbound")
        case "outgoing"?, "outbound"?: builder.set(.direction, string: "outbound")
        default: break
        }
        builder.set(.from, string: try payload.string("from"))
        builder.set(.to, string: try payload.string("to"))
        builder.set(.sipCallId, string: try payload.string("sip_call_id"))
        let event = ProviderEvent(providerCallIds: [callControlId],
                                  input: builder.input(kind: "telnyx.\(eventType)", receivedAt: now,
                                                       quality: quality.map { [$0] } ?? []))
        return WebhookResult(events: [event], reply: .ok)
    }

    static func verify(_ request: WebhookRequest, publicKey: [UInt8], now: Int64) throws(WebhookError) {
        guard let signatureText = request.headers["telnyx-signature-ed25519"], !signatureText.isEmpty else {
            throw .unauthorized("missing telnyx-signature-ed25519 header")
        }
        guard let timestampText = request.headers["telnyx-timestamp"], let timestamp = Int64(timestampText) else {
            throw .unauthorized("missing or malformed telnyx-timestamp header")
        }
        guard abs(now / 1000 - timestamp) <= toleranceSeconds else {
            throw .unauthorized("telnyx-timestamp outside the \(toleranceSeconds) s tolerance")
        }
        guard let signature = Crypto.base64Decode(signatureText.trimmingSpaces()) else {
            throw .unauthorized("telnyx-signature-ed25519 is not base64")
        }
        // Ed25519 is one-shot (no streaming): the body is copied once here.
        var message = Array(timestampText.utf8)
        message.append(UInt8(ascii: "|"))
        message.append(contentsOf: request.body)
        guard Crypto.ed25519Verify(publicKey: publicKey, message: message, signature: signature) else {
            throw .unauthorized("telnyx-signature-ed25519 does not match")
        }
    }

    /// The quality stats accepted, from `payload.call_quality_stats`: either
    /// one flat object or `{"inbound": {…}, "outbound": {…}}` (Telnyx's
    /// `call.hangup` shape), each with any of
    /// - `mos` (number or numeric string, 1-4.5),
    /// - `jitter` / `jitter_ms` (ms),
    /// - `packet_loss` / `packet_loss_percent` (percent), else
    ///   `skip_packet_count / packet_count * 100`,
    /// - `rtt` / `rtt_ms` (ms, round trip).
    ///
    /// Two directions combine into the worse of each metric (lowest MOS,
    /// highest jitter, loss and RTT): the call is as good as its worse leg.
    /// Returns nil when nothing usable is present.
    static func qualitySample(_ payload: JSONValue, ts: Int64) throws(WebhookError) -> QualitySample? {
        guard let stats = try payload.object("call_quality_stats") else { return nil }
        var sides: [JSONValue] = []
        if let inbound = try stats.object("inbound") { sides.append(inbound) }
        if let outbound = try stats.object("outbound") { sides.append(outbound) }
        if sides.isEmpty { sides = [stats] }
        var sample = QualitySample(ts: ts, source: "telnyx")
        func worse(_ a: Double?, _ b: Double?, lower: Bool) -> Double? {
            guard let a else { return b }
            guard let b else { return a }
            return lower ? min(a, b) : max(a, b)
        }
        for side in sides {
            let mos = try side.number("mos").flatMap { $0 > 0 ? $0 : nil }
            // `??` takes a rethrowing autoclosure, which loses the typed throw.
            let jitter = try first(side, "jitter", "jitter_ms")
            var loss = try first(side, "packet_loss", "packet_loss_percent")
            if loss == nil, let packets = try side.number("packet_count"), packets > 0,
               let skipped = try side.number("skip_packet_count") {
                loss = skipped / packets * 100
            }
            let rtt = try first(side, "rtt", "rtt_ms")
            sample.mos = worse(sample.mos, mos, lower: true)
            sample.jitter = worse(sample.jitter, jitter, lower: false)
            sample.packetLoss = worse(sample.packetLoss, loss.map { min($0, 100) }, lower: false)
            sample.rtt = worse(sample.rtt, rtt, lower: false)
        }
        sample.latency = sample.rtt.map { $0 / 2 }
        if sample.mos == nil && sample.jitter == nil && sample.packetLoss == nil && sample.rtt == nil { return nil }
        return sample
    }

    private static func first(_ side: JSONValue, _ a: String, _ b: String) throws(WebhookError) -> Double? {
        if let value = try side.number(a) { return value }
        return try side.number(b)
    }
}
