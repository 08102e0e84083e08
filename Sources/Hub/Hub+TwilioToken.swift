import Auth
import CallState

/// Twilio Voice access tokens for the browser's `Twilio.Device`: minted at
/// `POST /api/calls/initiate` and refreshed at `GET /api/twilio/token`
/// (docs/providers/twilio.md).
extension Hub {
    /// A fresh Voice token for `identity`, nil while the Twilio API key is
    /// not configured (`providers.twilio.accountSid`, `apiKeySid`,
    /// `apiKeySecret`).
    func mintTwilioToken(identity: String, now: Int64) -> TwilioAccessToken.Minted? {
        config.twilioAccessToken?.mint(identity: identity, nowSec: now / 1000)
    }

    /// The Voice identity of a session's caller: the one the backend set
    /// (`metadata.identity` from initiate or `/events`), else
    /// `user-<sub>-<sessionId>`. A value a client reported is not believed:
    /// `metadata` is writable by clients, and a Voice identity is who Twilio
    /// rings, so a client could otherwise take over another user's calls.
    func twilioIdentity(of sessionId: String, sub: String) -> String {
        if let update = sessions[sessionId]?.engine.winner(.metadata("identity")), update.sourceKind != .client,
           let identity = update.value.stringValue, !identity.isEmpty {
            return identity
        }
        return TwilioAccessToken.defaultIdentity(sub: sub, sessionId: sessionId)
    }

    /// `GET /api/twilio/token?session=` after the token check: 200
    /// `{twilioToken, identity, expiresAt}` (`expiresAt` in ms), 404 while
    /// Twilio keys are not configured or the session is unknown.
    func refreshTwilioToken(_ sessionId: String, caller: ClientIdentity, now: Int64) -> HTTPResponse {
        guard let keys = config.twilioAccessToken else {
            return .error(404, "not_configured",
                          "Twilio Voice tokens need providers.twilio.accountSid, apiKeySid and apiKeySecret")
        }
        guard sessions[sessionId] != nil else { return .error(404, "not_found", "no session \(sessionId)") }
        let identity = twilioIdentity(of: sessionId, sub: caller.sub)
        let minted = keys.mint(identity: identity, nowSec: now / 1000)
        return .json(200, [
            "twilioToken": .string(minted.jwt),
            "identity": .string(identity),
            "expiresAt": .int(minted.expiresAtSec * 1000),
        ], headers: [("Cache-Control", "no-store")])
    }
}
