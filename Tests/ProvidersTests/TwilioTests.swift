import CallState
import Crypto
import Foundation
import JSONCodec
import Testing
@testable import Providers

@Suite struct TwilioSignatureVectors {
    struct Vector { let url: String; let params: [(String, String)]; let signature: String }

    func vectors() throws -> (token: String, form: [Vector], json: JSONValue) {
        let root = try JSONCodec.parse(Fixtures.bytes("signature-vectors.json"))
        let twilio = try #require(root["twilio"])
        let form = try #require(twilio["form"]).arrayItems.map { v in
            Vector(url: v["url"]!.stringValue!,
                   params: v["params"]!.arrayItems.map { ($0.arrayItems[0].stringValue!, $0.arrayItems[1].stringValue!) },
                   signature: v["signature"]!.stringValue!)
        }
        return (try #require(twilio["authToken"]?.stringValue), form, try #require(twilio["json"]))
    }

    func request(url: String, body: [UInt8], signature: String, contentType: String) -> (publicUrl: String, WebhookRequest) {
        // Split "https://host[:port]/path?query" into what the hub sees.
        let afterScheme = url.range(of: "://")!.upperBound
        let pathStart = url[afterScheme...].firstIndex(of: "/")!
        let publicUrl = String(url[..<pathStart])
        let rest = url[pathStart...]
        let path = String(rest.split(separator: "?", maxSplits: 1)[0])
        let rawQuery = rest.contains("?") ? String(rest.split(separator: "?", maxSplits: 1)[1]) : nil
        return (publicUrl, WebhookRequest(path: path, rawQuery: rawQuery,
                                          headers: ["x-twilio-signature": signature, "content-type": contentType],
                                          body: body))
    }

    func formBody(_ params: [(String, String)]) -> [UInt8] {
        let allowed = CharacterSet.alphanumerics
        return Array(params.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&").utf8)
    }

    @Test func everyPublishedFormVectorVerifies() throws {
        let (token, form, _) = try vectors()
        #expect(form.count == 2)
        for vector in form {
            #expect(Twilio.signature(authToken: token, url: vector.url, params: vector.params) == vector.signature)
            let (publicUrl, req) = request(url: vector.url, body: formBody(vector.params), signature: vector.signature,
                                           contentType: "application/x-www-form-urlencoded")
            let params = try Twilio.verifiedParameters(req, token: token, publicUrl: publicUrl)
            #expect(params["CallSid"] == "CA1234567890ABCDE")
        }
    }

    @Test func urlIsAcceptedWithAndWithoutTheDefaultPort() throws {
        let (token, form, _) = try vectors()
        let body = formBody(form[0].params)
        for publicUrl in ["https://mycompany.com", "https://mycompany.com:443", "https://mycompany.com/"] {
            for vector in form {
                let req = WebhookRequest(path: "/myapp.php", rawQuery: "foo=1&bar=2",
                                         headers: ["x-twilio-signature": vector.signature], body: body)
                #expect(throws: Never.self) { try Twilio.verifiedParameters(req, token: token, publicUrl: publicUrl) }
            }
        }
        // A non-default port is a different URL.
        let req = WebhookRequest(path: "/myapp.php", rawQuery: "foo=1&bar=2",
                                 headers: ["x-twilio-signature": form[0].signature], body: body)
        #expect(throws: WebhookError.self) { try Twilio.verifiedParameters(req, token: token, publicUrl: "https://mycompany.com:8443") }
        #expect(Twilio.urlVariants("http://a.example/x?y=1") == ["http://a.example/x?y=1", "http://a.example:80/x?y=1"])
        #expect(Twilio.urlVariants("https://a.example:443/x") == ["https://a.example:443/x", "https://a.example/x"])
    }

    @Test func publishedJSONBodyVectorVerifiesWithBodySHA256() throws {
        let (token, _, json) = try vectors()
        let body = Array(json["body"]!.stringValue!.utf8)
        #expect(Crypto.hex(Crypto.sha256(body)) == json["bodySHA256"]!.stringValue!)
        let (publicUrl, req) = request(url: json["signedUrl"]!.stringValue!, body: body,
                                       signature: json["signature"]!.stringValue!, contentType: "application/json")
        let params = try Twilio.verifiedParameters(req, token: token, publicUrl: publicUrl)
        #expect(params["property"] == "value")
        #expect(params["boolean"] == "true")

        var tampered = req
        tampered.body = Array(#"{"property": "value", "boolean": false}"#.utf8)
        #expect(throws: WebhookError.unauthorized("X-Twilio-Signature does not match")) {
            try Twilio.verifiedParameters(tampered, token: token, publicUrl: publicUrl)
        }
        var unsignedBody = req
        unsignedBody.rawQuery = "foo=1&bar=2"
        #expect(status { () throws(WebhookError) in
            _ = try Twilio.verifiedParameters(unsignedBody, token: token, publicUrl: publicUrl)
            return WebhookResult(events: [], reply: .ok)
        } == 401)
    }
}

@Suite struct TwilioCallbacks {
    let webhooks = Webhooks(secrets: secrets())

    func signedRequest(_ route: WebhookRoute, body: [UInt8], rawQuery: String? = nil,
                       token: String = "twilio-test-token") -> WebhookRequest {
        let url = Twilio.signedURL(publicUrl: "https://hub.example.com", path: route.path, rawQuery: rawQuery)
        let params = Form.decode(body).map { ($0.name, $0.value) }
        var query: [String: String] = [:]
        if let rawQuery { query = Form.dictionary(Form.decode(query: rawQuery)) }
        return WebhookRequest(path: route.path, query: query, rawQuery: rawQuery,
                              headers: ["content-type": "application/x-www-form-urlencoded",
                                        "x-twilio-signature": Twilio.signature(authToken: token, url: url, params: params)],
                              body: body)
    }

    @Test func ringingFixtureMapsStateTsSeqAndEventId() throws {
        let body = try Fixtures.bytes("providers/twilio-status-ringing.form")
        let result = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: body), now: fixtureNow)
        #expect(result.reply == .noContent)
        let event = try #require(result.events.first)
        #expect(event.sessionId == nil)
        #expect(event.providerCallIds == ["CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c"])
        let input = event.input
        #expect(input.state(.ringing))
        #expect(input.source == "twilio" && input.sourceKind == .provider)
        #expect(input.eventId == "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c:1:ringing")
        #expect(input.updates.allSatisfy { $0.ts == 1_795_216_205_000 && $0.seq == 1 && $0.eventId == input.eventId })
        #expect(input.value(.direction) == .string("outbound"))
        #expect(input.value(.from) == .string("+14155550199"))
        #expect(input.value(.to) == .string("+14155550100"))
        #expect(input.value(.provider) == .string("twilio"))
        #expect(input.value(.providerCallId) == .string("CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c"))
        #expect(input.value(.twilioCallSid) == .string("CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c"))
    }

    @Test func completedBeforeRingingBothProduceUpdates() throws {
        let completed = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus,
            body: Fixtures.bytes("providers/twilio-status-completed.form")), now: fixtureNow)
        let ringing = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus,
            body: Fixtures.bytes("providers/twilio-status-ringing.form")), now: fixtureNow)
        let c = try #require(completed.events.first).input
        #expect(c.state(.ended))
        #expect(c.updates[0].ts == 1_795_216_252_000 && c.updates[0].seq == 3)
        #expect(c.eventId == "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c:3:completed")
        #expect(c.value(.metadata("callDuration")) == .int(42))
        #expect(try #require(ringing.events.first).input.state(.ringing))
    }

    /// PROTOCOL.md §10: the leg Twilio dials to a Voice SDK client names the
    /// callee whose devices ring; a call to a number names nobody.
    @Test func aCallToAVoiceClientNamesItsIdentityAsTheCallee() throws {
        let toClient = Array("CallSid=CA2&CallStatus=ringing&SequenceNumber=0&Direction=outbound-dial&From=%2B14155550199&To=client%3Aalice".utf8)
        let rung = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: toClient), now: 42)
        #expect(try #require(rung.events.first).input.value(.calleeSub) == .string("alice"))
        let toNumber = Array("CallSid=CA3&CallStatus=ringing&SequenceNumber=0&To=%2B14155550100".utf8)
        let dialled = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: toNumber), now: 42)
        #expect(try #require(dialled.events.first).input.value(.calleeSub) == nil)
    }

    @Test func everyCallStatusMapsPerProtocolTable() throws {
        let table: [String: CallStateValue] = [
            "queued": .queued, "initiated": .initiated, "ringing": .ringing, "in-progress": .connected,
            "completed": .ended, "busy": .busy, "failed": .failed, "no-answer": .noAnswer, "canceled": .canceled,
        ]
        for (status, state) in table {
            let body = Array("CallSid=CA1&CallStatus=\(status)&SequenceNumber=0".utf8)
            let result = try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: body), now: 42)
            #expect(result.events[0].input.state(state), "\(status)")
            #expect(result.events[0].input.updates[0].ts == 42, "missing Timestamp → receive time")
        }
    }

    @Test func unknownCallStatusIs422() {
        let body = Array("CallSid=CA1&CallStatus=exploded".utf8)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: body), now: 0) } == 422)
    }

    @Test func missingCallSidIs400() {
        let body = Array("CallStatus=ringing".utf8)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, signedRequest(.twilioStatus, body: body), now: 0) } == 400)
    }

    @Test func missingOrWrongSignatureIs401() throws {
        let body = try Fixtures.bytes("providers/twilio-status-ringing.form")
        var unsigned = signedRequest(.twilioStatus, body: body)
        unsigned.headers["x-twilio-signature"] = nil
        #expect(throws: WebhookError.unauthorized("missing X-Twilio-Signature header")) {
            try webhooks.handle(.twilioStatus, unsigned, now: fixtureNow)
        }
        let wrongToken = signedRequest(.twilioStatus, body: body, token: "someone-else")
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, wrongToken, now: fixtureNow) } == 401)
        var tampered = signedRequest(.twilioStatus, body: body)
        tampered.body = Array(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "ringing", with: "completed").utf8)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, tampered, now: fixtureNow) } == 401)
        // Signed for another path: the URL is part of the signature.
        var moved = signedRequest(.twilioStatus, body: body)
        moved.path = "/api/twilio/recording"
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioRecording, moved, now: fixtureNow) } == 401)
    }

    @Test func sessionQueryIsSignedAndApplied() throws {
        let body = try Fixtures.bytes("providers/twilio-status-ringing.form")
        let request = signedRequest(.twilioStatus, body: body, rawQuery: "session=sess-42")
        let result = try webhooks.handle(.twilioStatus, request, now: fixtureNow)
        #expect(result.events[0].sessionId == "sess-42")
        var stripped = request
        stripped.rawQuery = nil
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, stripped, now: fixtureNow) } == 401)
        let invalid = signedRequest(.twilioStatus, body: body, rawQuery: "session=bad%20id")
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, invalid, now: fixtureNow) } == 400)
    }

    @Test func notConfiguredIs404BeforeAnythingElse() {
        let bare = Webhooks(secrets: ProviderSecrets(publicUrl: "https://hub.example.com"))
        for route in [WebhookRoute.twilioStatus, .twilioRecording, .twilioVoice] {
            #expect(throws: WebhookError.notConfigured("twilio webhooks are not configured")) {
                try bare.handle(route, WebhookRequest(path: route.path), now: 0)
            }
        }
    }

    @Test func otherContentTypesAre415() {
        var request = signedRequest(.twilioStatus, body: Array("CallSid=CA1&CallStatus=ringing".utf8))
        request.headers["content-type"] = "text/plain"
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioStatus, request, now: 0) } == 415)
    }

    @Test func recordingCompletedFixtureSetsRecordingFields() throws {
        let body = try Fixtures.bytes("providers/twilio-recording-completed.form")
        let result = try webhooks.handle(.twilioRecording, signedRequest(.twilioRecording, body: body), now: fixtureNow)
        #expect(result.reply.status == 204)
        let input = try #require(result.events.first).input
        #expect(input.value(.recordingActive) == .bool(false))
        #expect(input.value(.recordingId) == .string("RE0123456789abcdef0123456789abcdef"))
        #expect(input.value(.recordingDuration) == .int(40))
        #expect(input.value(.recordingFormat) == .string("wav"))
        // RecordingStartTime 23:10:11 + 40 s: when the recording stopped.
        #expect(input.updates.allSatisfy { $0.ts == 1_795_216_211_000 + 40_000 })
        #expect(input.eventId == "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c:RE0123456789abcdef0123456789abcdef:completed")
        #expect(input.value(.callState) == nil)
    }

    @Test func recordingInProgressIsActiveAndMp3UrlGivesMp3() throws {
        let body = Array("CallSid=CA1&RecordingSid=RE1&RecordingStatus=in-progress&RecordingUrl=https%3A%2F%2Fx%2FRE1.mp3".utf8)
        let input = try webhooks.handle(.twilioRecording, signedRequest(.twilioRecording, body: body), now: 7).events[0].input
        #expect(input.value(.recordingActive) == .bool(true))
        #expect(input.value(.recordingFormat) == .string("mp3"))
        #expect(input.value(.recordingDuration) == nil)
        let bad = Array("CallSid=CA1&RecordingSid=RE1&RecordingStatus=melted".utf8)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.twilioRecording, signedRequest(.twilioRecording, body: bad), now: 0) } == 422)
    }

    @Test func voiceWebhookReturnsEventAndPlaceholderTwiML() throws {
        let body = Array("CallSid=CA9&CallStatus=ringing&Direction=inbound&From=%2B15550001&To=client%3Aagent".utf8)
        let result = try webhooks.handle(.twilioVoice, signedRequest(.twilioVoice, body: body, rawQuery: "session=s1"), now: 5)
        #expect(result.reply == TwilioVoice.placeholder)
        #expect(result.reply.contentType == "text/xml")
        let event = result.events[0]
        #expect(event.sessionId == "s1")
        #expect(event.input.state(.ringing))
        #expect(event.input.value(.direction) == .string("inbound"))
        #expect(event.input.value(.from) == .string("+15550001"))
        #expect(event.input.kind == "twilio.voice")
    }
}

@Suite struct TwiMLReplies {
    @Test func outboundDialsTheNumberWithCallerIdTimeoutAndRecording() {
        let reply = TwilioVoice.twiml(direction: "outbound", phoneNumber: "+14155550100", callerId: "+14155550199",
                                      identity: nil, record: true)
        #expect(reply.status == 200 && reply.contentType == "text/xml")
        #expect(String(decoding: reply.body, as: UTF8.self) ==
            #"<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+14155550199" timeout="30" record="record-from-answer-dual">+14155550100</Dial></Response>"#)
        let plain = TwilioVoice.twiml(direction: "outbound-api", phoneNumber: "+1", callerId: nil, identity: nil, record: false)
        #expect(String(decoding: plain.body, as: UTF8.self) ==
            #"<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="30">+1</Dial></Response>"#)
    }

    @Test func inboundDialsTheClientIdentity() {
        let reply = TwilioVoice.twiml(direction: "inbound", phoneNumber: nil, callerId: nil, identity: "agent-7", record: false)
        #expect(String(decoding: reply.body, as: UTF8.self) ==
            #"<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="20"><Client>agent-7</Client></Dial></Response>"#)
    }

    @Test func everythingIsXMLEscaped() {
        let inbound = TwilioVoice.twiml(direction: "inbound", phoneNumber: nil, callerId: nil,
                                        identity: #"a<b>&"c'"#, record: false)
        #expect(String(decoding: inbound.body, as: UTF8.self).contains("<Client>a&lt;b&gt;&amp;&quot;c&apos;</Client>"))
        let outbound = TwilioVoice.twiml(direction: "outbound", phoneNumber: "1</Dial><Play>x", callerId: #"" onload=""#,
                                         identity: nil, record: false)
        let text = String(decoding: outbound.body, as: UTF8.self)
        #expect(text.contains(#"callerId="&quot; onload=&quot;""#))
        #expect(text.contains("1&lt;/Dial&gt;&lt;Play&gt;x</Dial>"))
    }

    @Test func nobodyToDialHangsUp() {
        let reply = TwilioVoice.twiml(direction: "inbound", phoneNumber: "+1", callerId: nil, identity: nil, record: false)
        #expect(String(decoding: reply.body, as: UTF8.self).hasSuffix("<Response><Hangup/></Response>"))
    }
}

extension JSONValue {
    var arrayItems: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}

/// Issue 29: calls a Voice SDK client places through a TwiML app.
@Suite struct TwilioDeviceCalls {
    @Test func aClientPlacedCallIsOutboundAndItsSessionParameterNamesTheSession() {
        #expect(Twilio.direction("inbound", from: "client:user-1") == "outbound")
        #expect(Twilio.direction("inbound", from: "+15550001") == "inbound")
        #expect(Twilio.direction("inbound") == "inbound")
        #expect(Twilio.direction("outbound-dial", from: "client:user-1") == "outbound")
    }

    @Test func anInvalidSessionParameterIs400() throws {
        #expect(throws: WebhookError.self) {
            _ = try Twilio.voiceEvent(["CallSid": "CA1", "session": "bad id"], now: 0)
        }
        let event = try Twilio.voiceEvent(["CallSid": "CA1", "session": "call-1", "Direction": "inbound", "From": "client:u"], now: 0)
        #expect(event.sessionId == "call-1")
        #expect(event.input.value(.direction) == .string("outbound"))
    }
}
