import Crypto
import Foundation
import HubTestSupport
import Testing

/// Provider webhooks through the real hub over HTTP (issue 4): signatures are
/// computed here from the published schemes, independently of the parsers.
@Suite struct WebhookRouteTests {
    static let fixtures = HubProcess.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/providers")
    static let twilioToken = "test-twilio-token"
    static let secret = "test-shared-secret"
    static let publicUrl = "https://hub.example.com"

    static func startHub(_ extra: [String: Any] = [:]) throws -> HubProcess {
        var config: [String: Any] = [
            "server": ["publicUrl": publicUrl],
            "providers": ["twilio": ["authToken": twilioToken], "elevenlabs": ["secret": secret],
                          "agora": ["secret": secret], "generic": ["secret": secret]],
        ]
        config.merge(extra) { $1 }
        return try HubProcess(config: config)
    }

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Twilio: base64 HMAC-SHA1 over the public URL + sorted name/value pairs.
    static func twilioSignature(url: String, form: String) -> String {
        let pairs = form.split(separator: "&").map { pair -> (String, String) in
            let kv = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        let data = url + pairs.map { $0.0 + $0.1 }.joined()
        return Crypto.base64Encode(Crypto.hmacSHA1(key: Array(twilioToken.utf8), message: Array(data.utf8)))
    }

    static func postTwilio(_ hub: HubProcess, _ path: String, form: String, sign: Bool = true) throws -> HTTPClient.Response {
        var headers = ["Content-Type": "application/x-www-form-urlencoded"]
        if sign { headers["X-Twilio-Signature"] = twilioSignature(url: publicUrl + path, form: form) }
        return try hub.http.request("POST", path, headers: headers, body: Array(form.utf8))
    }

    /// Twilio's `Timestamp` format (RFC 2822, UTC).
    static func rfc2822(_ ms: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// Generic / Asterisk: `t=<s>,v1=<hex HMAC-SHA256 of "t.body">`.
    static func switchboardSignature(_ body: String, at t: Int = Int(Date().timeIntervalSince1970)) -> String {
        "t=\(t),v1=" + Crypto.hex(Crypto.hmacSHA256(key: Array(secret.utf8), message: Array("\(t).\(body)".utf8)))
    }

    func nextState(_ ws: WSClient) throws -> String? {
        while true {
            let frame = try ws.nextJSON()
            if frame["type"] as? String == "state_change" { return frame["state"] as? String }
        }
    }

    @Test func twilioStatusCallbacksOutOfOrderEndEnded() throws {
        let hub = try Self.startHub()
        let ws = try hub.connect("/ws/calls/tw-1")
        _ = try ws.nextJSON()
        let completed = try Self.postTwilio(hub, "/api/twilio/status?session=tw-1", form: Self.fixture("twilio-status-completed.form"))
        #expect(completed.status == 204)
        #expect(try nextState(ws) == "ended")
        let ringing = try Self.postTwilio(hub, "/api/twilio/status?session=tw-1", form: Self.fixture("twilio-status-ringing.form"))
        #expect(ringing.status == 204)
        let doc = try hub.http.get("/api/calls/tw-1").json
        #expect(doc["callState"] as? String == "ended")
        #expect(doc["twilioCallSid"] as? String == "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c")
    }

    @Test func replayingTheSameWebhookAppliesOnce() throws {
        let hub = try Self.startHub()
        let form = try Self.fixture("twilio-status-ringing.form")
        #expect(try Self.postTwilio(hub, "/api/twilio/status?session=tw-2", form: form).status == 204)
        let v1 = try hub.http.get("/api/calls/tw-2").json["version"] as? Int
        #expect(try Self.postTwilio(hub, "/api/twilio/status?session=tw-2", form: form).status == 204)
        #expect(try hub.http.get("/api/calls/tw-2").json["version"] as? Int == v1)
    }

    @Test func aWebhookWithoutSessionFindsTheSessionByCallSid() throws {
        let hub = try Self.startHub()
        #expect(try Self.postTwilio(hub, "/api/twilio/status?session=by-sid", form: Self.fixture("twilio-status-ringing.form")).status == 204)
        #expect(try Self.postTwilio(hub, "/api/twilio/recording", form: Self.fixture("twilio-recording-completed.form")).status == 204)
        let doc = try hub.http.get("/api/calls/by-sid").json
        let recording = doc["recording"] as? [String: Any]
        #expect(recording?["recordingId"] as? String == "RE0123456789abcdef0123456789abcdef")
    }

    @Test func badSignaturesAndUnconfiguredProvidersApplyNothing() throws {
        let hub = try Self.startHub()
        let form = try Self.fixture("twilio-status-ringing.form")
        #expect(try Self.postTwilio(hub, "/api/twilio/status?session=sig", form: form, sign: false).status == 401)
        let forged = try hub.http.request("POST", "/api/twilio/status?session=sig",
            headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="],
            body: Array(form.utf8))
        #expect(forged.status == 401)
        #expect((forged.json["error"] as? [String: Any])?["code"] != nil)
        // signed for another session: the URL is part of the signature
        var headers = ["Content-Type": "application/x-www-form-urlencoded"]
        headers["X-Twilio-Signature"] = Self.twilioSignature(url: Self.publicUrl + "/api/twilio/status?session=other", form: form)
        #expect(try hub.http.request("POST", "/api/twilio/status?session=sig", headers: headers, body: Array(form.utf8)).status == 401)
        #expect(try hub.http.get("/api/calls/sig").status == 404, "nothing applied")
        let telnyx = try hub.http.postJSON("/webhooks/telnyx", try Self.fixture("telnyx-call-hangup.json"))
        #expect(telnyx.status == 404, "telnyx is not configured in this hub")
    }

    @Test func genericWebhookAppliesBackendEventsAndRejectsStaleSignatures() throws {
        let hub = try Self.startHub()
        let ws = try hub.connect("/ws/calls/gen-1")
        _ = try ws.nextJSON()
        let body = #"{"id":"evt-1","ts":1795734605000,"state":"connected","metadata":{"agent":"ana"}}"#
        let ok = try hub.http.postJSON("/webhooks/generic/gen-1", body, headers: ["X-Switchboard-Signature": Self.switchboardSignature(body)])
        #expect(ok.status == 200)
        #expect(try nextState(ws) == "connected")
        let old = Int(Date().timeIntervalSince1970) - 3600
        let stale = try hub.http.postJSON("/webhooks/generic/gen-1", body.replacingOccurrences(of: "evt-1", with: "evt-2"),
                                          headers: ["X-Switchboard-Signature": Self.switchboardSignature(body, at: old)])
        #expect(stale.status == 401)
        let malformed = "{nope"
        #expect(try hub.http.postJSON("/webhooks/generic/gen-1", malformed,
                                      headers: ["X-Switchboard-Signature": Self.switchboardSignature(malformed)]).status == 400)
    }

    /// Issue 27 item 7: `state` as a name (this route's own shape) or as
    /// the object `/api/calls/{id}/events` takes; both apply, and a bad one
    /// of either form is 422 with nothing applied.
    @Test func genericWebhookTakesStateAsANameOrAsAnObjectOfFields() throws {
        let hub = try Self.startHub()
        for (session, body) in [
            ("gen-str", #"{"id":"s-1","state":"ringing"}"#),
            ("gen-obj", #"{"id":"o-1","state":{"callState":"ringing","direction":"inbound"}}"#),
        ] {
            let response = try hub.http.postJSON("/webhooks/generic/\(session)", body,
                                                 headers: ["X-Switchboard-Signature": Self.switchboardSignature(body)])
            #expect(response.status == 200, "\(session): \(response.text)")
            #expect(try hub.http.get("/api/calls/\(session)").json["callState"] as? String == "ringing", "\(session)")
        }
        #expect(try hub.http.get("/api/calls/gen-obj").json["direction"] as? String == "inbound")
        for (bad, status) in [(#"{"state":{"callState":"nope"}}"#, 422), (#"{"state":{"logStatus":"ended"}}"#, 422),
                              (#"{"state":7}"#, 400)] {
            let response = try hub.http.postJSON("/webhooks/generic/gen-bad", bad,
                                                 headers: ["X-Switchboard-Signature": Self.switchboardSignature(bad)])
            #expect(response.status == status, "\(bad): \(response.status)")
        }
        #expect(try hub.http.get("/api/calls/gen-bad").status == 404, "nothing applied")
    }

    @Test func agoraChannelEventsBecomeRingingConnectedEnded() throws {
        let hub = try Self.startHub()
        let ws = try hub.connect("/ws/calls/intercom-apt-1203")
        _ = try ws.nextJSON()
        var states: [String] = []
        for line in try Self.fixture("agora-ncs-events.jsonl").split(separator: "\n") {
            let body = String(line)
            let signature = Crypto.hex(Crypto.hmacSHA256(key: Array(Self.secret.utf8), message: Array(body.utf8)))
            let response = try hub.http.postJSON("/webhooks/agora", body, headers: ["Agora-Signature-V2": signature])
            #expect(response.status == 200)
        }
        while let frame = try? ws.nextJSON(timeout: 1) {
            if frame["type"] as? String == "state_change", let s = frame["state"] as? String, states.last != s { states.append(s) }
        }
        #expect(states.first == "ringing")
        #expect(states.contains("connected"))
        #expect(states.last == "ended")
    }

    @Test func anOversizeWebhookIs413() throws {
        let hub = try Self.startHub(["limits": ["maxBodyBytes": 4096]])
        let body = String(repeating: "a", count: 10_000)
        let response = try hub.http.request("POST", "/api/twilio/status", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(body.utf8))
        #expect(response.status == 413)
    }
}

/// `post_call_audio` bodies larger than `limits.maxBodyBytes` stream through
/// the real hub without being buffered (issue 4 §2).
@Suite struct LargeWebhookTests {
    static func signed(_ body: String) -> [String: String] {
        let t = Int(Date().timeIntervalSince1970)
        let mac = Crypto.hmacSHA256(key: Array(WebhookRouteTests.secret.utf8), parts: [Array("\(t).".utf8), Array(body.utf8)])
        return ["Content-Type": "application/json", "ElevenLabs-Signature": "t=\(t),v0=\(Crypto.hex(mac))"]
    }

    static func audio(_ megabytes: Int, session: String) -> String {
        #"{"type":"post_call_audio","event_timestamp":\#(Int(Date().timeIntervalSince1970)),"data":{"conversation_id":"conv_big","full_audio":"\#(String(repeating: "QUJD", count: megabytes * 262_144))","conversation_initiation_client_data":{"dynamic_variables":{"session_id":"\#(session)"}}}}"#
    }

    @Test func aMultiMegabyteAudioWebhookIsAcceptedWithoutRaisingTheBodyLimit() throws {
        let hub = try WebhookRouteTests.startHub(["limits": ["maxBodyBytes": 65536, "maxAudioBodyBytes": 16 << 20]])
        let body = Self.audio(4, session: "el-audio")
        let response = try hub.http.request("POST", "/webhooks/elevenlabs", headers: Self.signed(body), body: Array(body.utf8), timeout: 20)
        #expect(response.status == 200)
        let doc = try hub.http.get("/api/calls/el-audio").json
        #expect(doc["providerCallId"] as? String == "conv_big")
        // a forged one of the same size is read, then refused
        var forged = Self.signed(body)
        forged["ElevenLabs-Signature"] = forged["ElevenLabs-Signature"]!.replacingOccurrences(of: "v0=", with: "v0=00")
        #expect(try hub.http.request("POST", "/webhooks/elevenlabs", headers: forged, body: Array(body.utf8), timeout: 20).status == 401)
        // other routes keep the small limit
        #expect(try hub.http.postJSON("/api/calls/el-audio/sync", String(repeating: " ", count: 70_000) + "{}").status == 413)
    }

    @Test func anAudioWebhookOverMaxAudioBodyBytesIs413() throws {
        let hub = try WebhookRouteTests.startHub(["limits": ["maxBodyBytes": 65536, "maxAudioBodyBytes": 1 << 20]])
        let body = Self.audio(2, session: "el-too-big")
        let response = try hub.http.request("POST", "/webhooks/elevenlabs", headers: Self.signed(body), body: Array(body.utf8), timeout: 20)
        #expect(response.status == 413)
        #expect(try hub.http.get("/api/calls/el-too-big").status == 404)
    }
}
