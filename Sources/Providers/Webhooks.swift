import CallState

/// The webhook front door: route + request → verified, mapped events.
///
/// Checks, in order: the provider is configured (else 404), the content
/// type is one the route reads (415), the signature is present, correct and
/// fresh (401), the body is well-formed with the members the provider
/// documents (400), its values are in the vocabulary (422). Nothing is
/// parsed before the signature is verified (Twilio's form is split into
/// pairs, which its signature covers). Pure: no I/O, no clock but `now`.
public struct Webhooks: Sendable {
    public let secrets: ProviderSecrets

    public init(secrets: ProviderSecrets) {
        self.secrets = secrets
    }

    /// Verifies and maps one webhook request.
    /// - Parameters:
    ///   - route: from `WebhookRoute(path:)`.
    ///   - request: the raw request.
    ///   - now: the hub's clock, ms: the receive time, the fallback `ts`,
    ///     and the reference for signature timestamp tolerances.
    /// - Returns: the events (possibly none, for event types that say nothing
    ///   about a call) and the reply the provider expects. An explicit
    ///   `?session=` (any route but generic) is put on every event.
    public func handle(_ route: WebhookRoute, _ request: WebhookRequest, now: Int64) throws(WebhookError) -> WebhookResult {
        var result: WebhookResult
        switch route {
        case .twilioStatus, .twilioRecording, .twilioVoice:
            let token = try configured(secrets.twilioAuthToken, "twilio")
            let callback: Twilio.Callback = route == .twilioStatus ? .status : route == .twilioRecording ? .recording : .voice
            result = try Twilio.handle(callback, request, token: token, publicUrl: secrets.publicUrl, now: now)
        case .elevenlabs:
            result = try ElevenLabs.handle(request, secret: configured(secrets.elevenlabsSecret, "elevenlabs"), now: now,
                                           summaryMaxChars: secrets.elevenlabsSummaryMaxChars)
        case .agora:
            result = try Agora.handle(request, secret: configured(secrets.agoraSecret, "agora"), now: now)
        case .telnyx:
            _ = try configured(secrets.telnyxPublicKey, "telnyx")
            // A key that does not decode can verify nothing: the route is
            // effectively unconfigured (validationErrors names it at start).
            guard let key = secrets.telnyxKeyBytes else { throw .notConfigured("telnyx webhooks are not configured") }
            result = try Telnyx.handle(request, publicKey: key, now: now)
        case .asterisk:
            result = try Asterisk.handle(request, secret: configured(secrets.genericSecret, "asterisk"), now: now)
        case .generic(let sessionId):
            guard SessionID.isValid(sessionId) else { throw .badRequest("invalid session id") }
            return try Generic.handle(request, sessionId: sessionId,
                                      secret: configured(secrets.genericSecret, "generic"), now: now)
        }
        if let session = request.query["session"] {
            guard SessionID.isValid(session) else { throw .badRequest("session is not a valid session id") }
            for index in result.events.indices { result.events[index].sessionId = session }
        }
        return result
    }

    private func configured(_ secret: String?, _ provider: String) throws(WebhookError) -> String {
        guard let secret, !secret.isEmpty else { throw .notConfigured("\(provider) webhooks are not configured") }
        return secret
    }
}
