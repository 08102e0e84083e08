import CallState
import Crypto
import JSONCodec
import Testing
@testable import Providers

@Suite struct AgoraWebhooks {
    let webhooks = Webhooks(secrets: secrets())

    func signed(_ body: [UInt8], secret: String = "agora-test-secret") -> WebhookRequest {
        WebhookRequest(path: "/webhooks/agora",
                       headers: ["content-type": "application/json",
                                 "agora-signature-v2": Crypto.hex(Crypto.hmacSHA256(key: Array(secret.utf8), message: body))],
                       body: body)
    }

    @Test func publishedVectorsVerifyWithV2AndV1() throws {
        let agora = try #require(JSONCodec.parse(Fixtures.bytes("signature-vectors.json"))["agora"])
        let body = Array(agora["body"]!.stringValue!.utf8)
        let secret = agora["secret"]!.stringValue!
        let v2 = WebhookRequest(path: "/webhooks/agora", headers: ["agora-signature-v2": agora["Agora-Signature-V2"]!.stringValue!], body: body)
        let v1 = WebhookRequest(path: "/webhooks/agora", headers: ["agora-signature": agora["Agora-Signature"]!.stringValue!], body: body)
        try Agora.verify(v2, secret: secret)
        try Agora.verify(v1, secret: secret)
        // eventType 10 says nothing about calls: accepted, no events.
        let result = try Webhooks(secrets: ProviderSecrets(agoraSecret: secret)).handle(.agora, v2, now: 0)
        #expect(result.events.isEmpty && result.reply == .ok)
        var wrong = v1
        wrong.headers["agora-signature"] = String(repeating: "0", count: 40)
        #expect(throws: WebhookError.self) { try Agora.verify(wrong, secret: secret) }
        #expect(throws: WebhookError.unauthorized("missing Agora-Signature-V2 header")) {
            try Agora.verify(WebhookRequest(path: "/webhooks/agora", body: body), secret: secret)
        }
    }

    @Test func fixtureEventsMapWithPresenceResolvedByTheHubSide() throws {
        var presence = AgoraChannelPresence()
        var states: [CallStateValue?] = []
        for line in try Fixtures.lines("providers/agora-ncs-events.jsonl") {
            var event = try #require(webhooks.handle(.agora, signed(line), now: 1).events.first)
            #expect(event.providerCallIds == ["intercom-apt-1203"])
            #expect(event.input.value(.providerCallId) == .string("intercom-apt-1203"))
            presence.resolve(&event)
            states.append(event.input.value(.callState).flatMap { $0.stringValue }.flatMap(CallStateValue.init(rawValue:)))
            let body = try JSONCodec.parse(line)
            #expect(event.input.eventId == body["noticeId"]!.stringValue)
            #expect(event.input.updates.allSatisfy { $0.ts == body["payload"]!["ts"]!.intValue! * 1000 })
            #expect(event.input.updates.allSatisfy { $0.seq == (body["payload"]!["clientSeq"]?.intValue ?? 0) })
        }
        // create → ringing; 1st join → nothing; 2nd join → connected;
        // one leaves (one still in) → nothing; destroy → ended.
        #expect(states == [.ringing, nil, .connected, nil, .ended])
    }

    @Test func presenceIsOrderIndependentPerUser() {
        func hint(_ uid: String, _ joined: Bool, _ seq: Int64) -> AgoraPresence {
            AgoraPresence(channelName: "c", uid: uid, joined: joined, clientSeq: seq, ts: seq)
        }
        var p = AgoraChannelPresence()
        #expect(p.apply(hint("a", false, 2)) == nil)   // a's leave overtook its join
        #expect(p.apply(hint("a", true, 1)) == nil)    // stale: a stays out
        #expect(p.apply(hint("b", true, 1)) == nil)
        #expect(p.apply(hint("b", true, 1)) == nil)    // duplicate
        #expect(p.activeUsers == 1)
        #expect(p.apply(hint("c", true, 1)) == .connected)
        #expect(p.apply(hint("b", false, 2)) == nil)
        #expect(p.apply(hint("c", false, 2)) == .ended)
    }

    /// FuzzAgora's crash: a signed event whose `uid` is a whole number past
    /// Int64 trapped (the hub process died); now it is a 400.
    @Test func aUidPastInt64IsABadRequestNotACrash() throws {
        let body = Array(#"{"noticeId":"n-big","productId":1,"eventType":103,"payload":{"channelName":"big-uid","uid":11044444444444444444444444444444430.746,"ts":1795734605}}"#.utf8)
        #expect(throws: WebhookError.self) { try webhooks.handle(.agora, signed(body), now: 1_795_734_605_000) }
        let huge = Array(#"{"noticeId":"n-big2","productId":1,"eventType":103,"payload":{"channelName":"big-uid","uid":1e30,"ts":1795734605}}"#.utf8)
        #expect(throws: WebhookError.self) { try webhooks.handle(.agora, signed(huge), now: 1_795_734_605_000) }
    }

    @Test func wrongSignatureMalformedAndNotConfigured() {
        let body = Array(#"{"eventType":101,"noticeId":"n","payload":{"channelName":"c","ts":1}}"#.utf8)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.agora, signed(body, secret: "other"), now: 0) } == 401)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.agora, signed(Array("{not json".utf8)), now: 0) } == 400)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.agora, signed(Array(#"{"eventType":101}"#.utf8)), now: 0) } == 400)
        #expect(status { () throws(WebhookError) in
            try Webhooks(secrets: ProviderSecrets()).handle(.agora, signed(body), now: 0) } == 404)
    }
}

@Suite struct ElevenLabsWebhooks {
    let webhooks = Webhooks(secrets: secrets())
    let now: Int64 = 1_795_734_700_000

    func signed(_ body: [UInt8], t: Int64? = nil, secret: String = "wsec_test") -> WebhookRequest {
        WebhookRequest(path: "/webhooks/elevenlabs",
                       headers: ["content-type": "application/json",
                                 "elevenlabs-signature": SignatureHeader.sign(secret: secret, timestamp: t ?? now / 1000,
                                                                              body: body, scheme: "v0")],
                       body: body)
    }

    @Test func postCallTranscriptionFixtureEndsTheCallInItsSession() throws {
        let body = try Fixtures.bytes("providers/elevenlabs-post-call-transcription.json")
        let result = try webhooks.handle(.elevenlabs, signed(body), now: now)
        #expect(result.reply == .ok)
        let event = try #require(result.events.first)
        #expect(event.sessionId == "sess-42")
        #expect(event.providerCallIds == ["conv_01jd9w8x2k", "CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c"])
        #expect(event.input.state(.ended))
        #expect(event.input.eventId == "conv_01jd9w8x2k:post_call_transcription:1795734652")
        #expect(event.input.updates.allSatisfy { $0.ts == 1_795_734_652_000 && $0.seq == 0 })
        #expect(event.input.value(.providerCallId) == .string("conv_01jd9w8x2k"))
        #expect(event.input.value(.provider) == .string("elevenlabs"))
        #expect(event.input.value(.direction) == .string("outbound"))
        #expect(event.input.value(.from) == .string("+14155550199"))
        #expect(event.input.value(.to) == .string("+14155550100"))
        #expect(event.input.value(.twilioCallSid) == .string("CA5f2e0c8d1b7a4e3f9c6d2b1a0e9f8d7c"))
    }

    @Test func callInitiationFailureMapsFailureReason() throws {
        let body = try Fixtures.bytes("providers/elevenlabs-call-initiation-failure.json")
        let event = try #require(webhooks.handle(.elevenlabs, signed(body), now: now).events.first)
        #expect(event.input.state(.busy))
        #expect(event.sessionId == nil)
        #expect(event.providerCallIds == ["conv_01jd9w8x3m", "CA9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"])
        #expect(event.input.eventId == "conv_01jd9w8x3m:call_initiation_failure:1795734700")
        for (reason, state) in [("no-answer", CallStateValue.noAnswer), ("unknown", .failed)] {
            let text = #"{"type":"call_initiation_failure","event_timestamp":1,"data":{"conversation_id":"c","failure_reason":"\#(reason)"}}"#
            #expect(try webhooks.handle(.elevenlabs, signed(Array(text.utf8)), now: now).events[0].input.state(state))
        }
    }

    @Test func postCallAudioCarriesNoStateAndDropsTheAudio() throws {
        let audio = String(repeating: "A", count: 200_000)
        let text = #"{"type":"post_call_audio","event_timestamp":5,"data":{"conversation_id":"c1","full_audio":"\#(audio)"}}"#
        let event = try #require(webhooks.handle(.elevenlabs, signed(Array(text.utf8)), now: now).events.first)
        #expect(event.input.value(.callState) == nil)
        #expect(event.input.value(.providerCallId) == .string("c1"))
    }

    @Test func staleMissingAndWrongSignaturesAre401() throws {
        let body = try Fixtures.bytes("providers/elevenlabs-post-call-transcription.json")
        #expect(status { () throws(WebhookError) in try webhooks.handle(.elevenlabs, signed(body, t: now / 1000 - 31 * 60), now: now) } == 401)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.elevenlabs, signed(body, t: now / 1000 - 29 * 60), now: now) } == nil)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.elevenlabs, signed(body, secret: "wsec_other"), now: now) } == 401)
        var missing = signed(body)
        missing.headers["elevenlabs-signature"] = nil
        #expect(status { () throws(WebhookError) in try webhooks.handle(.elevenlabs, missing, now: now) } == 401)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.elevenlabs, signed(Array("[1,".utf8)), now: now) } == 400)
    }
}

@Suite struct TelnyxWebhooks {
    let privateKey = Crypto.randomBytes(32)
    let now: Int64 = 1_795_216_262_000

    var webhooks: Webhooks { Webhooks(secrets: secrets(telnyxPublicKey: Crypto.ed25519PublicKey(fromPrivate: privateKey)!)) }

    func signed(_ body: [UInt8], t: Int64? = nil, key: [UInt8]? = nil) -> WebhookRequest {
        let timestamp = String(t ?? now / 1000)
        let signature = Crypto.ed25519Sign(privateKey: key ?? privateKey, message: Array((timestamp + "|").utf8) + body)!
        return WebhookRequest(path: "/webhooks/telnyx",
                              headers: ["content-type": "application/json", "telnyx-timestamp": timestamp,
                                        "telnyx-signature-ed25519": Crypto.base64Encode(signature)],
                              body: body)
    }

    func event(_ type: String, cause: String? = nil, extra: String = "") -> [UInt8] {
        let causeText = cause.map { #","hangup_cause":"\#($0)""# } ?? ""
        return Array(#"{"data":{"event_type":"\#(type)","id":"e1","occurred_at":"2026-11-20T23:10:05.5Z","payload":{"call_control_id":"v3:x","direction":"outgoing","from":"+1","to":"+2"\#(causeText)\#(extra)}}}"#.utf8)
    }

    @Test func hangupFixtureEndsTheCall() throws {
        let body = try Fixtures.bytes("providers/telnyx-call-hangup.json")
        let event = try #require(webhooks.handle(.telnyx, signed(body), now: now).events.first)
        #expect(event.input.state(.ended))
        #expect(event.input.eventId == "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0")
        #expect(event.input.updates.allSatisfy { $0.ts == 1_795_216_262_004 })
        #expect(event.providerCallIds == ["v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg"])
        #expect(event.input.value(.from) == .string("+14155550199"))
        #expect(event.input.value(.provider) == .string("telnyx"))
    }

    @Test func eventTypesAndHangupCausesMapPerProtocol() throws {
        let cases: [(String, String?, CallStateValue)] = [
            ("call.initiated", nil, .initiated), ("call.answered", nil, .connected), ("call.bridged", nil, .connected),
            ("call.hangup", "user_busy", .busy), ("call.hangup", "no_answer", .noAnswer), ("call.hangup", "timeout", .noAnswer),
            ("call.hangup", "call_rejected", .declined), ("call.hangup", "normal_clearing", .ended),
        ]
        for (type, cause, state) in cases {
            let input = try webhooks.handle(.telnyx, signed(event(type, cause: cause)), now: now).events[0].input
            #expect(input.state(state), "\(type) \(cause ?? "")")
            #expect(input.updates[0].ts == 1_795_216_205_500)
            #expect(input.value(.direction) == .string("outbound"))
        }
        #expect(try webhooks.handle(.telnyx, signed(event("call.dtmf.received")), now: now).events.isEmpty)
    }

    @Test func qualityStatsBecomeAQualitySample() throws {
        let stats = #","call_quality_stats":{"inbound":{"mos":"4.10","jitter_ms":12,"packet_count":"1000","skip_packet_count":"20"},"outbound":{"mos":4.4,"jitter_ms":30}}"#
        let input = try webhooks.handle(.telnyx, signed(event("call.hangup", extra: stats)), now: now).events[0].input
        let sample = try #require(input.quality.first)
        #expect(sample.mos == 4.1 && sample.jitter == 30 && sample.packetLoss == 2)
        #expect(sample.ts == 1_795_216_205_500 && sample.source == "telnyx")
    }

    @Test func staleWrongAndMissingSignaturesAre401() throws {
        let body = try Fixtures.bytes("providers/telnyx-call-hangup.json")
        #expect(status { () throws(WebhookError) in try webhooks.handle(.telnyx, signed(body, t: now / 1000 - 301), now: now) } == 401)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.telnyx, signed(body, key: Crypto.randomBytes(32)), now: now) } == 401)
        var missing = signed(body)
        missing.headers["telnyx-signature-ed25519"] = nil
        #expect(status { () throws(WebhookError) in try webhooks.handle(.telnyx, missing, now: now) } == 401)
        #expect(status { () throws(WebhookError) in try webhooks.handle(.telnyx, signed(Array("nope".utf8)), now: now) } == 400)
        #expect(status { () throws(WebhookError) in try Webhooks(secrets: ProviderSecrets()).handle(.telnyx, signed(body), now: now) } == 404)
    }
}

@Suite struct AsteriskAndGenericWebhooks {
    let webhooks = Webhooks(secrets: secrets())
    let now: Int64 = 1_795_216_262_000

    func signed(_ route: WebhookRoute, _ body: [UInt8], t: Int64? = nil, query: [String: String] = [:]) -> WebhookRequest {
        WebhookRequest(path: route.path, query: query,
                       headers: ["content-type": "application/json",
                                 "x-switchboard-signature": SignatureHeader.sign(secret: "generic-test-secret",
                                                                                 timestamp: t ?? now / 1000, body: body)],
                       body: body)
    }

    @Test func ariFixtureWalksRingingConnectedEnded() throws {
        var states: [CallStateValue] = []
        for line in try Fixtures.lines("providers/asterisk-ari-events.jsonl") {
            let event = try #require(webhooks.handle(.asterisk, signed(.asterisk, line, query: ["session": "pbx-1"]), now: now).events.first)
            #expect(event.sessionId == "pbx-1")
            #expect(event.providerCallIds == ["1795734605.17"])
            #expect(event.input.value(.from) == .string("01234567890"))
            #expect(event.input.value(.to) == .string("564612"))
            states.append(CallStateValue(rawValue: event.input.value(.callState)!.stringValue!)!)
        }
        #expect(states == [.ringing, .connected, .ended])
    }

    @Test func ariTimestampAndEventId() throws {
        let line = try Fixtures.lines("providers/asterisk-ari-events.jsonl")[0]
        let input = try webhooks.handle(.asterisk, signed(.asterisk, line), now: now).events[0].input
        #expect(input.updates.allSatisfy { $0.ts == 1_795_216_205_120 })
        #expect(input.eventId == "ChannelStateChange:1795734605.17:2026-11-20T23:10:05.120+0000")
    }

    @Test func ariDestroyCausesHoldAndDeviceState() throws {
        for (cause, state) in [(17, CallStateValue.busy), (19, .noAnswer), (21, .declined), (16, .ended)] {
            let body = Array(#"{"type":"ChannelDestroyed","timestamp":"2026-11-20T23:11:02.004+0000","cause":\#(cause),"channel":{"id":"c1"}}"#.utf8)
            #expect(try webhooks.handle(.asterisk, signed(.asterisk, body), now: now).events[0].input.state(state))
        }
        let hold = Array(#"{"type":"ChannelHold","channel":{"id":"c1"}}"#.utf8)
        #expect(try webhooks.handle(.asterisk, signed(.asterisk, hold), now: now).events[0].input.state(.onHold))
        let device = Array(#"{"type":"DeviceStateChanged","device_state":{"name":"PJSIP/100","state":"NOT_INUSE"}}"#.utf8)
        let input = try webhooks.handle(.asterisk, signed(.asterisk, device), now: now).events[0].input
        #expect(input.value(.deviceStatus) == .string("ready"))
        let other = Array(#"{"type":"StasisStart","channel":{"id":"c1"}}"#.utf8)
        #expect(try webhooks.handle(.asterisk, signed(.asterisk, other), now: now).events.isEmpty)
    }

    @Test func genericEventMapsStateMetadataFieldsAndQuality() throws {
        let body = Array(#"{"id":"evt-1","ts":1795216205120,"state":"hold","metadata":{"agent":"ana","score":3},"fields":{"direction":"outbound","recording":{"active":true}},"quality":{"rtt":120,"jitter":8,"packetLoss":0.5}}"#.utf8)
        let route = WebhookRoute.generic(sessionId: "sess-9")
        let result = try webhooks.handle(route, signed(route, body), now: now)
        let event = try #require(result.events.first)
        #expect(event.sessionId == "sess-9")
        let input = event.input
        #expect(input.source == "generic" && input.sourceKind == .backend && input.eventId == "evt-1")
        #expect(input.state(.onHold))
        #expect(input.value(.metadata("agent")) == .string("ana"))
        #expect(input.value(.metadata("score")) == .int(3))
        #expect(input.value(.direction) == .string("outbound"))
        #expect(input.value(.recordingActive) == .bool(true))
        #expect(input.updates.allSatisfy { $0.ts == 1_795_216_205_120 && $0.sourceKind == .backend })
        #expect(input.quality.first?.latency == 60)
    }

    @Test func genericRejectsUnknownStateReadOnlyFieldsStaleAndBadSignatures() {
        let route = WebhookRoute.generic(sessionId: "s")
        func code(_ body: String, t: Int64? = nil) -> Int? {
            status { () throws(WebhookError) in try webhooks.handle(route, signed(route, Array(body.utf8), t: t), now: now) }
        }
        #expect(code(#"{"state":"teleported"}"#) == 422)
        #expect(code(#"{"fields":{"version":3}}"#) == 422)
        #expect(code(#"{"fields":{"direction":"sideways"}}"#) == 422)
        #expect(code(#"{"metadata":{"nested":{"a":1}}}"#) == 422)
        #expect(code(#"{"state":"ended"}"#, t: now / 1000 - 301) == 401)
        #expect(code(#"{"state":"ended"}"#, t: now / 1000 + 301) == 401)
        #expect(code(#"{"state": 1}"#) == 400)
        #expect(code("not json") == 400)
        var bad = signed(route, Array(#"{"state":"ended"}"#.utf8))
        bad.headers["x-switchboard-signature"] = "t=\(now / 1000),v1=" + String(repeating: "ab", count: 32)
        #expect(status { () throws(WebhookError) in try webhooks.handle(route, bad, now: now) } == 401)
        bad.headers["x-switchboard-signature"] = nil
        #expect(status { () throws(WebhookError) in try webhooks.handle(route, bad, now: now) } == 401)
        #expect(status { () throws(WebhookError) in
            try Webhooks(secrets: ProviderSecrets()).handle(route, signed(route, Array("{}".utf8)), now: now) } == 404)
        var text = signed(route, Array("{}".utf8))
        text.headers["content-type"] = "text/plain"
        #expect(status { () throws(WebhookError) in try webhooks.handle(route, text, now: now) } == 415)
    }
}

@Suite struct SharedPieces {
    @Test func routesMapProtocolPaths() {
        #expect(WebhookRoute(path: "/api/twilio/status") == .twilioStatus)
        #expect(WebhookRoute(path: "/api/twilio/recording") == .twilioRecording)
        #expect(WebhookRoute(path: "/api/twilio/voice") == .twilioVoice)
        #expect(WebhookRoute(path: "/webhooks/elevenlabs") == .elevenlabs)
        #expect(WebhookRoute(path: "/webhooks/agora") == .agora)
        #expect(WebhookRoute(path: "/webhooks/telnyx") == .telnyx)
        #expect(WebhookRoute(path: "/webhooks/asterisk") == .asterisk)
        #expect(WebhookRoute(path: "/webhooks/generic/call-1:a.b_c") == .generic(sessionId: "call-1:a.b_c"))
        #expect(WebhookRoute(path: "/webhooks/generic/bad id") == nil)
        #expect(WebhookRoute(path: "/webhooks/generic/") == nil)
        #expect(WebhookRoute(path: "/webhooks/unknown") == nil)
    }

    @Test func timestampsParseProviderFormats() {
        #expect(Timestamps.rfc2822("Wed, 20 Nov 2026 23:10:52 +0000") == 1_795_216_252_000)
        #expect(Timestamps.rfc2822("20 Nov 2026 18:10:52 -0500") == 1_795_216_252_000)
        #expect(Timestamps.rfc2822("Wed, 20 Nov 2026 23:10:52 GMT") == 1_795_216_252_000)
        #expect(Timestamps.rfc2822("Wed, 20 Foo 2026 23:10:52 +0000") == nil)
        #expect(Timestamps.iso8601("2026-11-20T23:11:02.004512Z") == 1_795_216_262_004)
        #expect(Timestamps.iso8601("2026-11-20T23:10:05.120+0000") == 1_795_216_205_120)
        #expect(Timestamps.iso8601("2026-11-21T00:10:05.120+01:00") == 1_795_216_205_120)
        #expect(Timestamps.iso8601("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamps.iso8601("2024-02-29T12:00:00Z") == 1_709_208_000_000)
        #expect(Timestamps.iso8601("2026-11-20T23:10:05") == nil)
        #expect(Timestamps.iso8601("2026-13-20T23:10:05Z") == nil)
    }

    @Test func formDecodingHandlesPlusPercentAndGarbage() {
        let pairs = Form.decode(Array("a=1+2&b=%2B%C3%A9&c&d=%zz&=e".utf8))
        #expect(pairs.map { "\($0.name)=\($0.value)" } == ["a=1 2", "b=+é", "c=", "d=%zz", "=e"])
    }

    @Test func mediaTypeIsTheLowerCasedTypeWithoutParametersOrSpaces() throws {
        let cases: [(String, String?)] = [
            (" Application/JSON ; charset=utf-8", "application/json"), ("text/plain", "text/plain"),
            ("application/cloudevents+JSON", "application/cloudevents+json"), ("", nil), (" \t; x=y", nil),
        ]
        for (header, expected) in cases {
            #expect(WebhookRequest(path: "/", headers: ["content-type": header]).mediaType == expected, "\(header)")
        }
        #expect(WebhookRequest(path: "/").mediaType == nil)
        try WebhookRequest(path: "/", headers: ["content-type": "Application/Problem+JSON"]).requireJSONContentType()
        #expect(throws: WebhookError.self) {
            try WebhookRequest(path: "/", headers: ["content-type": "text/plain"]).requireJSONContentType()
        }
    }

    @Test func signatureHeaderParsesAndRoundTrips() throws {
        let header = SignatureHeader(parsing: "t=12, v1=aa,v1=bb,v0=cc")
        #expect(header.timestamp == 12 && header.values["v1"] == ["aa", "bb"] && header.values["v0"] == ["cc"])
        // Spaces and tabs around keys and values, empty items and items
        // without `=` are tolerated; a value keeps its inner `=`.
        let loose = SignatureHeader(parsing: " t = 12 ,\tv1=aa\t,,junk, v1 = b=b,")
        #expect(loose.timestamp == 12 && loose.values["v1"] == ["aa", "b=b"] && loose.values.count == 1)
        let body = Array("{}".utf8)
        let signed = SignatureHeader.sign(secret: "s", timestamp: 100, body: body)
        try SignatureHeader.verify(signed, name: "X", scheme: "v1", secret: "s", body: body, now: 100_000, toleranceSeconds: 300)
        // A second, correct v1 among wrong ones (secret rotation) passes.
        let rotated = "t=100,v1=" + String(repeating: "00", count: 32) + "," + signed.split(separator: ",")[1]
        try SignatureHeader.verify(rotated, name: "X", scheme: "v1", secret: "s", body: body, now: 100_000, toleranceSeconds: 300)
    }

    @Test func secretsValidationNamesConfigKeys() {
        #expect(ProviderSecrets(telnyxPublicKey: Crypto.base64Encode(Crypto.randomBytes(32))).validationErrors.isEmpty)
        let bad = ProviderSecrets(twilioAuthToken: "", telnyxPublicKey: "abc", publicUrl: "hub.example.com")
        #expect(bad.validationErrors.count == 3)
        #expect(bad.validationErrors[0].hasPrefix("providers.twilio.authToken"))
    }

    @Test func errorReplyIsProtocolJSON() {
        let reply = WebhookError.unauthorized("nope").reply
        #expect(reply.status == 401 && reply.contentType == "application/json")
        #expect(String(decoding: reply.body, as: UTF8.self) == #"{"error":{"code":"unauthorized","message":"nope"}}"#)
    }
}
