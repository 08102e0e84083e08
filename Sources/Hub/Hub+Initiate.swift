import Auth
import CallState
import Crypto

/// `POST /api/calls/initiate` (PROTOCOL.md §6): the backend creates a call
/// and gets back what the app and Twilio need to join it.
extension Hub {
    /// Creates a session from `{phoneNumber, direction?, leadId?, recordingEnabled?, identity?, callerId?}`.
    /// Answers through `respond` after the commit: 201 with today's
    /// `{sessionId, callId, token, webhookUrls:{voice,status,recording}}`
    /// plus the seed's `success`, `twilioToken`, `identity`, `webhookUrl`,
    /// and the same under `session` for front ends written against the
    /// plan's `{"success": true, "session": {…}}` shape.
    /// - Parameters:
    ///   - caller: the requesting (admin) token; its `sub` names the Voice
    ///     identity when the body gives none: `user-<sub>-<sessionId>`.
    func initiate(_ body: JSONValue, caller: ClientIdentity, now: Int64,
                  respond: @escaping (HTTPResponse) -> Void) throws(InputError) {
        guard let phone = body["phoneNumber"]?.stringValue, !phone.isEmpty else {
            throw .invalid("phoneNumber is required")
        }
        let direction = body["direction"]?.stringValue ?? "outbound"
        guard direction == "inbound" || direction == "outbound" else { throw .invalid("direction must be inbound or outbound") }
        if let r = body["recordingEnabled"], r.boolValue == nil { throw .invalid("recordingEnabled must be a boolean") }
        for key in ["leadId", "identity", "callerId"] {
            if let v = body[key], v.stringValue == nil, v != .null { throw .invalid("\(key) must be a string") }
        }
        if body["identity"]?.stringValue == "" { throw .invalid("identity must not be empty") }
        let sessionId = "call-" + Crypto.hex(Crypto.randomBytes(8))
        let callId = sessionId
        // The Voice identity is kept in `metadata.identity`, where the voice
        // route reads it for an inbound `<Client>` and the refresh route for
        // the next token: the Device that holds this token is the one rung.
        let identity = body["identity"]?.stringValue ?? TwilioAccessToken.defaultIdentity(sub: caller.sub, sessionId: sessionId)
        var metadata: [String: JSONValue] = ["recordingEnabled": .bool(body["recordingEnabled"]?.boolValue ?? false),
                                             "identity": .string(identity)]
        for key in ["leadId", "callerId"] { if let v = body[key]?.stringValue { metadata[key] = .string(v) } }
        var state: [String: JSONValue] = ["phoneNumber": .string(phone), "direction": .string(direction),
                                          "callId": .string(callId), "callState": "initiated"]
        // A given identity is a user: the callee whose devices ring (§10).
        if let callee = body["identity"]?.stringValue { state["calleeSub"] = .string(callee) }
        let request: JSONValue = .object([
            "id": .string("initiate:" + sessionId),
            "ts": .int(now),
            "state": .object(state),
            "metadata": .object(metadata),
        ])
        let decoded = try InputDecoder.report(request, identity: ClientIdentity(sub: "backend", role: .admin),
                                              receivedAt: now, kind: "backend.initiate", sourceKind: .backend,
                                              source: "backend")
        var token: JSONValue = .null
        if let secret = config.auth.hs256Secret {
            let claims = Claims(sub: body["identity"]?.stringValue ?? "caller-" + sessionId, sid: sessionId,
                                role: .client, exp: now / 1000 + Int64(config.auth.maxTtlSec), iat: now / 1000,
                                aud: config.auth.audience)
            token = .string(TokenMinter.hs256(claims, secret: Array(secret.utf8)))
        }
        // null without a Twilio API key: the hub cannot sign for Twilio.
        let twilioToken: JSONValue = mintTwilioToken(identity: identity, now: now).map { .string($0.jwt) } ?? .null
        let base = config.server.publicUrl.hasSuffix("/") ? String(config.server.publicUrl.dropLast()) : config.server.publicUrl
        func url(_ kind: String) -> JSONValue { .string("\(base)/api/twilio/\(kind)?session=\(sessionId)") }
        let session: [String: JSONValue] = [
            "sessionId": .string(sessionId),
            "callId": .string(callId),
            "twilioToken": twilioToken,
            "identity": .string(identity),
            "webhookUrl": url("voice"),
        ]
        var answer = session
        answer["success"] = true
        answer["token"] = token
        answer["webhookUrls"] = .object(["voice": url("voice"), "status": url("status"), "recording": url("recording")])
        answer["session"] = .object(session)
        let created: HTTPResponse = .json(201, .object(answer), headers: [("Cache-Control", "no-store")])
        try accept(decoded, to: sessionId, now: now) { result in
            if case .success = result { respond(created) } else { respond(Hub.storeUnavailable) }
        }
    }

    /// The session's timeline (§2.7), oldest first; nil for an unknown session.
    func timeline(_ sessionId: String) -> JSONValue? {
        sessions[sessionId].map { .array(timelineWithPush($0.engine.timeline.map(\.json), $0)) }
    }
}
