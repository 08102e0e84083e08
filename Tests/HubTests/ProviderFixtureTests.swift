import Crypto
import Foundation
import HubTestSupport
import Testing

/// The published sample payloads of every provider go through the real hub
/// over HTTP, signed as each provider signs, and a subscriber sees the
/// mapped state (issue 4).
@Suite struct ProviderFixtureTests {
    static let telnyxPrivate = Crypto.randomBytes(32)

    static func hub(_ extra: [String: Any] = [:]) throws -> HubProcess {
        let publicKey = Crypto.base64Encode(Crypto.ed25519PublicKey(fromPrivate: telnyxPrivate)!)
        var config: [String: Any] = ["server": ["publicUrl": WebhookRouteTests.publicUrl], "providers": [
            "elevenlabs": ["secret": WebhookRouteTests.secret], "generic": ["secret": WebhookRouteTests.secret],
            "telnyx": ["publicKey": publicKey], "twilio": ["authToken": WebhookRouteTests.twilioToken],
        ]]
        config.merge(extra) { $1 }
        return try HubProcess(config: config)
    }

    static func states(_ ws: WSClient, for seconds: TimeInterval = 1) -> [String] {
        var seen: [String] = []
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            guard let frame = try? ws.nextJSON(timeout: max(0.05, deadline.timeIntervalSinceNow)) else { continue }
            if frame["type"] as? String == "state_change", let s = frame["state"] as? String { seen.append(s) }
        }
        return seen
    }

    static func elevenLabsHeaders(_ body: String) -> [String: String] {
        let t = Int(Date().timeIntervalSince1970)
        let mac = Crypto.hmacSHA256(key: Array(WebhookRouteTests.secret.utf8), parts: [Array("\(t).".utf8), Array(body.utf8)])
        return ["Content-Type": "application/json", "ElevenLabs-Signature": "t=\(t),v0=\(Crypto.hex(mac))"]
    }

    @Test func elevenLabsTranscriptionEndsTheCallNamedByItsDynamicVariables() throws {
        let hub = try Self.hub()
        let ws = try hub.connect("/ws/calls/sess-42")
        _ = try ws.nextJSON()
        let body = try WebhookRouteTests.fixture("elevenlabs-post-call-transcription.json")
        #expect(try hub.http.request("POST", "/webhooks/elevenlabs", headers: Self.elevenLabsHeaders(body), body: Array(body.utf8)).status == 200)
        #expect(Self.states(ws).last == "ended")
        let doc = try hub.http.get("/api/calls/sess-42").json
        #expect(doc["providerCallId"] as? String == "conv_01jd9w8x2k")
        #expect(doc["twilioCallSid"] as? String == "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c")
    }

    @Test func elevenLabsInitiationFailureMapsItsReason() throws {
        let hub = try Self.hub()
        let body = try WebhookRouteTests.fixture("elevenlabs-call-initiation-failure.json")
        #expect(try hub.http.request("POST", "/webhooks/elevenlabs?session=el-fail", headers: Self.elevenLabsHeaders(body),
                                     body: Array(body.utf8)).status == 200)
        #expect(try hub.http.get("/api/calls/el-fail").json["callState"] as? String == "busy")
        // a stale signature timestamp (over 30 min) is refused
        let old = Int(Date().timeIntervalSince1970) - 3600
        let mac = Crypto.hmacSHA256(key: Array(WebhookRouteTests.secret.utf8), parts: [Array("\(old).".utf8), Array(body.utf8)])
        let stale = try hub.http.request("POST", "/webhooks/elevenlabs?session=el-stale",
                                         headers: ["Content-Type": "application/json", "ElevenLabs-Signature": "t=\(old),v0=\(Crypto.hex(mac))"],
                                         body: Array(body.utf8))
        #expect(stale.status == 401)
    }

    @Test func telnyxHangupSignedWithEd25519EndsTheCall() throws {
        let hub = try Self.hub()
        let body = try WebhookRouteTests.fixture("telnyx-call-hangup.json")
        let t = String(Int(Date().timeIntervalSince1970))
        let signature = Crypto.ed25519Sign(privateKey: Self.telnyxPrivate, message: Array("\(t)|\(body)".utf8))!
        let headers = ["Content-Type": "application/json", "telnyx-timestamp": t,
                       "telnyx-signature-ed25519": Crypto.base64Encode(signature)]
        #expect(try hub.http.request("POST", "/webhooks/telnyx?session=tx-1", headers: headers, body: Array(body.utf8)).status == 200)
        let doc = try hub.http.get("/api/calls/tx-1").json
        #expect(doc["callState"] as? String == "ended")
        #expect((doc["providerCallId"] as? String)?.hasPrefix("v3:") == true)
        var forged = headers
        forged["telnyx-signature-ed25519"] = Crypto.base64Encode([UInt8](repeating: 1, count: 64))
        #expect(try hub.http.request("POST", "/webhooks/telnyx?session=tx-2", headers: forged, body: Array(body.utf8)).status == 401)
    }

    @Test func asteriskEventsRingConnectAndEnd() throws {
        let hub = try Self.hub()
        let ws = try hub.connect("/ws/calls/ast-1")
        _ = try ws.nextJSON()
        for line in try WebhookRouteTests.fixture("asterisk-ari-events.jsonl").split(separator: "\n") {
            let body = String(line)
            let response = try hub.http.postJSON("/webhooks/asterisk?session=ast-1", body,
                                                 headers: ["X-Switchboard-Signature": WebhookRouteTests.switchboardSignature(body)])
            #expect(response.status == 200)
        }
        #expect(Self.states(ws) == ["ringing", "connected", "ended"])
    }

    @Test func aClientAndAProviderThatDisagreeFlipToConflictOnATimer() throws {
        let hub = try Self.hub(["merge": ["pendingWindowMs": 400, "maxFutureSkewMs": 5000]])
        let ws = try hub.connect("/ws/calls/sync-1")
        _ = try ws.nextJSON()
        let now = Int(Date().timeIntervalSince1970 * 1000)
        try ws.send(#"{"type":"report","id":"c1","ts":\#(now),"state":{"callState":"connected"}}"#)
        // The provider says otherwise (syncStatus compares client and provider).
        let form = "CallSid=CAsync&CallStatus=ringing&SequenceNumber=1&Timestamp=" + WebhookRouteTests.rfc2822(now)
        #expect(try WebhookRouteTests.postTwilio(hub, "/api/twilio/status?session=sync-1", form: form).status == 204)
        var statuses: [String] = []
        let deadline = Date(timeIntervalSinceNow: 3)
        while Date() < deadline, statuses.last != "conflict" {
            guard let frame = try? ws.nextJSON(timeout: 0.5), frame["type"] as? String == "state_change" else { continue }
            if let s = (frame["call"] as? [String: Any])?["syncStatus"] as? String, statuses.last != s { statuses.append(s) }
        }
        #expect(statuses.contains("pending"))
        #expect(statuses.last == "conflict", "flipped without new input: \(statuses)")
    }
}
