import Foundation
import HubTestSupport
import Testing

/// Issue 29: `POST /api/calls/initiate` answers with a Twilio Voice access
/// token in Twilio's published format and the seed plan's answer shape;
/// `GET /api/twilio/token?session=` refreshes it.
@Suite struct TwilioVoiceTokenTests {
    static let accountSid = "AC0123456789abcdef0123456789abcdef"
    static let apiKeySid = "SKfedcba9876543210fedcba9876543210"
    static let apiKeySecret = "twilio-api-key-secret-for-tests"
    static let twimlAppSid = "AP00112233445566778899aabbccddeeff"
    static let publicUrl = "https://calls.example.com"

    static func hub(ttl: Int = 900, twimlApp: Bool = true) throws -> HubProcess {
        var twilio: [String: Any] = ["accountSid": accountSid, "apiKeySid": apiKeySid, "apiKeySecret": apiKeySecret,
                                     "tokenTtlSec": ttl, "authToken": WebhookRouteTests.twilioToken]
        if twimlApp { twilio["twimlAppSid"] = twimlAppSid }
        return try HubProcess(config: ["server": ["publicUrl": publicUrl], "providers": ["twilio": twilio]])
    }

    static func initiate(_ hub: HubProcess, _ body: String = #"{"phoneNumber":"+15550100"}"#) throws -> [String: Any] {
        let created = try hub.http.postJSON("/api/calls/initiate", body)
        try #require(created.status == 201, "initiate answered \(created.status): \(created.text)")
        return created.json
    }

    /// The claims layout of Twilio's helper libraries (twilio-python
    /// `AccessToken` with a `VoiceGrant`), checked on what PyJWT decoded.
    static func expectTwilioLayout(_ header: [String: Any], _ claims: [String: Any], identity: String,
                                   ttl: Int, outgoing: Bool = true) {
        #expect(header["typ"] as? String == "JWT")
        #expect(header["alg"] as? String == "HS256")
        #expect(header["cty"] as? String == "twilio-fpa;v=1")
        #expect(claims["iss"] as? String == apiKeySid)
        #expect(claims["sub"] as? String == accountSid)
        let iat = claims["iat"] as? Int ?? -1
        #expect(claims["jti"] as? String == "\(apiKeySid)-\(iat)")
        #expect(claims["nbf"] as? Int == iat)
        #expect(claims["exp"] as? Int == iat + ttl)
        let now = Int(Date().timeIntervalSince1970)
        #expect(abs(iat - now) < 60, "minted now")
        let grants = claims["grants"] as? [String: Any]
        #expect(grants?["identity"] as? String == identity)
        let voice = grants?["voice"] as? [String: Any]
        #expect((voice?["incoming"] as? [String: Any])?["allow"] as? Bool == true)
        let application = (voice?["outgoing"] as? [String: Any])?["application_sid"] as? String
        #expect(application == (outgoing ? twimlAppSid : nil))
    }

    @Test func initiateMintsATwilioVoiceTokenThatPyJWTVerifiesWithTheApiKeySecret() throws {
        let hub = try Self.hub(ttl: 900)
        let answer = try Self.initiate(hub)
        let sessionId = try #require(answer["sessionId"] as? String)
        let token = try #require(answer["twilioToken"] as? String)
        let (header, claims) = try PyJWT.verifyHS256(token, secret: Self.apiKeySecret)
        // No identity in the request: `user-<sub of the admin token>-<sessionId>`.
        Self.expectTwilioLayout(header, claims, identity: "user-admin-\(sessionId)", ttl: 900)
        #expect(answer["identity"] as? String == "user-admin-\(sessionId)")
        // Signed with the API key secret, not anything else the hub holds.
        #expect(throws: PyJWT.Refused.self) { try PyJWT.verifyHS256(token, secret: HubProcess.secret) }
        #expect(throws: PyJWT.Refused.self) { try PyJWT.verifyHS256(token, secret: Self.apiKeySecret + "x") }
    }

    @Test func initiateAnswersTheSeedPlansShapeAndKeepsTodaysFields() throws {
        // The plan's answer, as a front end written against it decodes it.
        struct PlanAnswer: Decodable {
            struct Session: Decodable {
                let sessionId: String
                let callId: String
                let twilioToken: String?
                let identity: String
                let webhookUrl: String
            }
            let success: Bool
            let session: Session
        }
        let hub = try Self.hub()
        let created = try hub.http.postJSON("/api/calls/initiate", #"{"phoneNumber":"+15550100","identity":"agent-7"}"#)
        #expect(created.status == 201)
        let plan = try JSONDecoder().decode(PlanAnswer.self, from: Data(created.body))
        #expect(plan.success)
        #expect(plan.session.identity == "agent-7", "the request's identity names the Twilio client")
        #expect(plan.session.callId == plan.session.sessionId)
        #expect(plan.session.webhookUrl == "\(Self.publicUrl)/api/twilio/voice?session=\(plan.session.sessionId)")
        let twilioToken = try #require(plan.session.twilioToken)
        let (header, claims) = try PyJWT.verifyHS256(twilioToken, secret: Self.apiKeySecret)
        Self.expectTwilioLayout(header, claims, identity: "agent-7", ttl: 900)

        // Today's fields stay, and the top level repeats the seed's.
        let json = created.json
        #expect(json["sessionId"] as? String == plan.session.sessionId)
        #expect(json["callId"] as? String == plan.session.callId)
        #expect(json["twilioToken"] as? String == twilioToken)
        #expect(json["identity"] as? String == "agent-7")
        #expect(json["webhookUrl"] as? String == plan.session.webhookUrl)
        #expect(json["token"] is String)
        let urls = json["webhookUrls"] as? [String: String]
        #expect(urls?["voice"] == plan.session.webhookUrl)
        #expect(urls?["status"] == "\(Self.publicUrl)/api/twilio/status?session=\(plan.session.sessionId)")
        #expect(created.headers["cache-control"] == "no-store")
        // The identity is kept where the voice route and the refresh read it.
        let doc = try hub.http.get("/api/calls/\(plan.session.sessionId)").json
        #expect((doc["metadata"] as? [String: Any])?["identity"] as? String == "agent-7")
    }

    @Test func withoutATwimlAppTheTokenOnlyReceivesCalls() throws {
        let hub = try Self.hub(twimlApp: false)
        let answer = try Self.initiate(hub)
        let (header, claims) = try PyJWT.verifyHS256(try #require(answer["twilioToken"] as? String), secret: Self.apiKeySecret)
        Self.expectTwilioLayout(header, claims, identity: answer["identity"] as? String ?? "", ttl: 900, outgoing: false)
    }

    @Test func withoutTwilioKeysTheTwilioTokenIsNullAndRefreshIs404() throws {
        let hub = try HubProcess()
        let created = try hub.http.postJSON("/api/calls/initiate", #"{"phoneNumber":"+15550100"}"#)
        #expect(created.status == 201)
        #expect(created.json["success"] as? Bool == true)
        #expect(created.json["twilioToken"] is NSNull, "present and null")
        let session = try #require(created.json["session"] as? [String: Any])
        #expect(session["twilioToken"] is NSNull)
        let sessionId = try #require(created.json["sessionId"] as? String)
        #expect(session["identity"] as? String == "user-admin-\(sessionId)")
        let refresh = try hub.http.get("/api/twilio/token?session=\(sessionId)")
        #expect(refresh.status == 404)
        #expect((refresh.json["error"] as? [String: Any])?["code"] as? String == "not_configured")
    }

    @Test func refreshGivesTheSessionsClientAFreshTokenForTheSameIdentity() throws {
        let hub = try Self.hub(ttl: 600)
        let answer = try Self.initiate(hub)
        let sessionId = try #require(answer["sessionId"] as? String)
        let client = HTTPClient(port: hub.port, token: try #require(answer["token"] as? String))
        let before = Int64(Date().timeIntervalSince1970) * 1000
        let refreshed = try client.get("/api/twilio/token?session=\(sessionId)")
        #expect(refreshed.status == 200)
        #expect(refreshed.headers["cache-control"] == "no-store")
        let json = refreshed.json
        #expect(json["identity"] as? String == answer["identity"] as? String, "the Device keeps its identity")
        let token = try #require(json["twilioToken"] as? String)
        let (header, claims) = try PyJWT.verifyHS256(token, secret: Self.apiKeySecret)
        Self.expectTwilioLayout(header, claims, identity: "user-admin-\(sessionId)", ttl: 600)
        // expiresAt is the token's exp, in ms like every time of the API.
        let expiresAt = try #require((json["expiresAt"] as? NSNumber)?.int64Value)
        #expect(expiresAt == Int64(claims["exp"] as? Int ?? 0) * 1000)
        #expect(expiresAt >= before + 600_000 - 1000 && expiresAt <= before + 600_000 + 60_000)
        // Admin may refresh any session.
        #expect(try hub.http.get("/api/twilio/token?session=\(sessionId)").status == 200)
    }

    @Test func refreshRefusesATokenForAnotherSession() throws {
        let hub = try Self.hub()
        let mine = try #require(Self.initiate(hub)["sessionId"] as? String)
        let theirs = try #require(Self.initiate(hub)["sessionId"] as? String)
        func get(_ token: String?, _ session: String) throws -> HTTPClient.Response {
            try HTTPClient(port: hub.port, token: token).get("/api/twilio/token?session=\(session)")
        }
        let clientOfMine = HubProcess.token(role: .client, sub: "u1", sid: mine)
        #expect(try get(clientOfMine, mine).status == 200)
        let refused = try get(clientOfMine, theirs)
        #expect(refused.status == 403)
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "forbidden")
        #expect(refused.json["twilioToken"] == nil)
        // A viewer or dashboard token only watches: no Twilio token.
        #expect(try get(HubProcess.token(role: .viewer, sid: mine), mine).status == 403)
        #expect(try get(HubProcess.token(role: .dashboard), mine).status == 403)
        // No token, an expired one, no session, a bad one, an unknown one.
        #expect(try get(nil, mine).status == 401)
        #expect(try get(HubProcess.token(role: .client, sid: mine, ttl: -120), mine).status == 401)
        #expect(try hub.http.get("/api/twilio/token").status == 400)
        #expect(try hub.http.get("/api/twilio/token?session=bad%20id").status == 400)
        #expect(try hub.http.get("/api/twilio/token?session=never-made").status == 404)
        #expect(try hub.http.request("POST", "/api/twilio/token?session=\(mine)").status == 405)
    }

    @Test func anIdentityAClientReportsIsNotBelievedByRefresh() throws {
        let hub = try Self.hub()
        let sessionId = try #require(Self.initiate(hub, #"{"phoneNumber":"+15550100","identity":"agent-7"}"#)["sessionId"] as? String)
        let client = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "mallory", sid: sessionId))
        #expect(try client.get("/api/twilio/token?session=\(sessionId)").json["identity"] as? String == "agent-7")
        // A client overwrites metadata.identity to be rung as someone else.
        let report = try client.postJSON("/api/calls/\(sessionId)/sync",
                                         #"{"event":"ringing","data":{"metadata":{"identity":"victim"}}}"#)
        #expect(report.status == 200)
        let refreshed = try client.get("/api/twilio/token?session=\(sessionId)").json
        #expect(refreshed["identity"] as? String == "user-mallory-\(sessionId)")
        let (_, claims) = try PyJWT.verifyHS256(try #require(refreshed["twilioToken"] as? String), secret: Self.apiKeySecret)
        #expect((claims["grants"] as? [String: Any])?["identity"] as? String == "user-mallory-\(sessionId)")
    }

    /// The browser side end to end (docs/providers/twilio.md): the Device
    /// calls `device.connect({params: {session}})`; Twilio posts to the
    /// TwiML app's fixed voice URL as a call *from* `client:<identity>`
    /// (`Direction=inbound`) with `session` among the parameters; the hub
    /// files it under that session and answers TwiML that dials the number.
    @Test func aDeviceCallWithItsSessionParameterDialsTheSessionsNumber() throws {
        let hub = try Self.hub()
        let answer = try Self.initiate(hub, #"{"phoneNumber":"+14155550100","callerId":"+14155550199"}"#)
        let sessionId = try #require(answer["sessionId"] as? String)
        let identity = try #require(answer["identity"] as? String)
        let form = "AccountSid=\(Self.accountSid)&ApiVersion=2010-04-01&ApplicationSid=\(Self.twimlAppSid)"
            + "&CallSid=CAdevice0001&CallStatus=ringing&Direction=inbound&From=client%3A\(identity)"
            + "&Caller=client%3A\(identity)&session=\(sessionId)"
        let path = "/api/twilio/voice"
        let headers = ["Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": WebhookRouteTests.twilioSignature(url: Self.publicUrl + path, form: form)]
        let reply = try hub.http.request("POST", path, headers: headers, body: Array(form.utf8))
        #expect(reply.status == 200)
        #expect(reply.text.contains(#"<Dial callerId="+14155550199" timeout="30">+14155550100</Dial>"#), "\(reply.text)")
        let doc = try hub.http.get("/api/calls/\(sessionId)").json
        #expect(doc["providerCallId"] as? String == "CAdevice0001")
        #expect(doc["direction"] as? String == "outbound", "a call the Device placed is outbound for the app")
        #expect(doc["callState"] as? String == "ringing")
        // The parameter is signed like every other: a forged one is refused.
        let forged = form.replacingOccurrences(of: "session=\(sessionId)", with: "session=someone-else")
        #expect(try hub.http.request("POST", path, headers: headers, body: Array(forged.utf8)).status == 401)
        #expect(try hub.http.get("/api/calls/someone-else").status == 404)
    }

    @Test func anEmptyIdentityIsRefused() throws {
        let hub = try Self.hub()
        let refused = try hub.http.postJSON("/api/calls/initiate", #"{"phoneNumber":"+15550100","identity":""}"#)
        #expect(refused.status == 422)
    }
}
