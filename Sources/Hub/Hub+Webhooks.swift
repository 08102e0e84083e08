import CallState
import Providers

/// Provider webhooks (PROTOCOL.md §6): verify, resolve the session, apply,
/// answer the way the provider expects.
extension Hub {
    /// Handles one webhook request on the reactor thread. Returns an
    /// immediate answer (refusals), or `.accepted` and answers through
    /// `respond` once every event of the request is committed and applied.
    func webhook(_ route: WebhookRoute, _ req: HTTPRequest, now: Int64,
                 respond: @escaping (HTTPResponse) -> Void) -> HTTPResponse {
        guard !draining else { return Hub.drainingResponse }
        let request = WebhookRequest(path: req.path, query: req.query, rawQuery: req.rawQuery,
                                     headers: req.headers, body: req.body)
        return applyWebhook(route, Result { () throws(WebhookError) in try webhooks.handle(route, request, now: now) },
                            now: now, respond: respond)
    }

    /// Applies a webhook already verified and mapped (or refused), from the
    /// buffered path above or a streamed body (`ElevenLabsAudioStream`).
    public func applyWebhook(_ route: WebhookRoute, _ verified: Result<WebhookResult, WebhookError>, now: Int64,
                             respond: @escaping (HTTPResponse) -> Void) -> HTTPResponse {
        let result: WebhookResult
        switch verified {
        case .failure(let error):
            metrics.increment("switchboard_webhook_requests_total", [("provider", route.provider), ("outcome", error.code)])
            if error.status == 401 { metrics.increment("switchboard_signature_failures_total", [("provider", route.provider)]) }
            return HTTPResponse(error.reply)
        case .success(let value):
            result = value
        }
        if let binding = result.binding, let refusal = admitSignature(binding, route: route, now: now) {
            return refusal
        }

        var routed: [(String, ProviderEvent)] = []
        for var event in result.events {
            // Nothing names a session (e.g. an Asterisk device event without ?session=): dropped.
            guard let sessionId = resolveSession(event) else { continue }
            if event.agoraPresence != nil { channel(sessionId).agora.resolve(&event) }
            routed.append((sessionId, event))
        }
        let finish: () -> HTTPResponse = { [unowned self] in
            // Counted once stored and applied: an input the journal refused is `store_unavailable`.
            countWebhookOK(route.provider)
            return route == .twilioVoice ? HTTPResponse(voiceTwiML(routed.last?.0)) : HTTPResponse(result.reply)
        }
        guard !routed.isEmpty else { return finish() }
        // Every event is checked against the growth limits before any is
        // journaled: a request is refused whole or accepted whole.
        var reservations: [GrowthLimits.Reservation] = []
        for (sessionId, event) in routed {
            do { reservations.append(try reserveGrowth(event.input, to: sessionId, now: now)) } catch {
                for reservation in reservations { releaseGrowth(reservation, applied: false) }
                metrics.increment("switchboard_webhook_requests_total", [("provider", route.provider), ("outcome", "too_large")])
                return .error(422, error.code, error.message)
            }
        }
        var remaining = routed.count
        var failed = false
        for ((sessionId, event), reservation) in zip(routed, reservations) {
            accept(DecodedInput(input: event.input), to: sessionId, reserved: reservation, now: now) { outcome in
                if case .failure = outcome { failed = true }
                remaining -= 1
                guard remaining == 0 else { return }
                if failed {
                    self.metrics.increment("switchboard_webhook_requests_total",
                                           [("provider", route.provider), ("outcome", "store_unavailable")])
                    respond(Hub.storeUnavailable)
                } else {
                    respond(finish())
                }
            }
        }
        return .accepted
    }

    /// Binds a generic / Asterisk signature to its target (PROTOCOL.md §6
    /// v1.1): nil to go on, or the refusal. A `v1` signature seen on another
    /// target is a replay onto another session: 401, nothing applied.
    func admitSignature(_ binding: SignatureBinding, route: WebhookRoute, now: Int64) -> HTTPResponse? {
        switch signatureMemory.admit(binding, nowSeconds: now / 1000) {
        case .fresh, .retry:
            return nil
        case .otherTarget:
            metrics.increment("switchboard_webhook_requests_total", [("provider", route.provider), ("outcome", "unauthorized")])
            metrics.increment("switchboard_signature_failures_total", [("provider", route.provider)])
            return HTTPResponse(WebhookError.unauthorized(
                "X-Switchboard-Signature was already used for another path; sign each request (v2 binds the path)").reply)
        case .full(let retryAfter):
            metrics.increment("switchboard_webhook_requests_total", [("provider", route.provider), ("outcome", "signature_memory_full")])
            return .error(503, "signature_memory_full",
                          "too many v1 signatures within the tolerance window; retry later or sign v2",
                          headers: [("Retry-After", "\(retryAfter)")])
        }
    }

    /// `?session=` or the payload's own session id; else a session already
    /// holding one of the provider's call ids; else a new session named by
    /// the first id that is a valid session id.
    func resolveSession(_ event: ProviderEvent) -> String? {
        let chosen = event.sessionId
            ?? event.providerCallIds.lazy.compactMap { self.sessionsByProviderCallId[$0] }.first
            ?? event.providerCallIds.first(where: SessionID.isValid)
        guard let chosen else { return nil }
        for id in event.providerCallIds { sessionsByProviderCallId[id] = chosen }
        return chosen
    }

    /// TwiML for the voice webhook, from what the session knows (set by
    /// `POST /api/calls/initiate` or earlier inputs).
    func voiceTwiML(_ sessionId: String?) -> WebhookReply {
        let doc = sessionId.flatMap { sessions[$0]?.engine.document.json } ?? .null
        let metadata = doc["metadata"] ?? .null
        return TwilioVoice.twiml(direction: doc["direction"]?.stringValue,
                                 phoneNumber: doc["phoneNumber"]?.stringValue,
                                 callerId: metadata["callerId"]?.stringValue,
                                 identity: metadata["identity"]?.stringValue,
                                 record: metadata["recordingEnabled"]?.boolValue ?? false)
    }
}

extension HTTPResponse {
    init(_ reply: WebhookReply) {
        self.init(status: reply.status, contentType: reply.contentType, body: reply.body)
    }
}

extension WebhookRoute {
    /// The metrics label: `twilio`, `agora`, …
    var provider: String {
        switch self {
        case .twilioStatus, .twilioRecording, .twilioVoice: return "twilio"
        case .elevenlabs: return "elevenlabs"
        case .agora: return "agora"
        case .telnyx: return "telnyx"
        case .asterisk: return "asterisk"
        case .generic: return "generic"
        }
    }
}
