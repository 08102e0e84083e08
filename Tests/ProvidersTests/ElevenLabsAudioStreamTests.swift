import CallState
import Crypto
import Foundation
import Testing
@testable import Providers

/// Large ElevenLabs bodies verified and mapped while they stream (issue 4 §2).
@Suite struct ElevenLabsAudioStreamTests {
    static let secret = "el-secret"
    static let now: Int64 = 1_795_734_700_000

    static func body(audioBytes: Int, type: String = "post_call_audio") -> [UInt8] {
        let audio = String(repeating: "QUJD", count: audioBytes / 4)
        return Array(#"{"type":"\#(type)","event_timestamp":1795734690,"data":{"agent_id":"agent_7f3c2a","conversation_id":"conv_\u0041udio","full_audio":"\#(audio)","nested":{"list":[1,2.5,true,null,{"x":"y"}]}}}"#.utf8)
    }

    static func headers(for body: [UInt8], secret: String = secret) -> [String: String] {
        let t = now / 1000
        let mac = Crypto.hmacSHA256(key: Array(secret.utf8), parts: [Array("\(t).".utf8), body])
        return ["content-type": "application/json", "elevenlabs-signature": "t=\(t),v0=\(Crypto.hex(mac))"]
    }

    func stream(_ body: [UInt8], headers: [String: String], chunk: Int) throws(WebhookError) -> WebhookResult {
        let s = try ElevenLabsAudioStream(secrets: ProviderSecrets(elevenlabsSecret: Self.secret), headers: headers, now: Self.now)
        var offset = 0
        while offset < body.count {
            let end = min(offset + chunk, body.count)
            body[offset..<end].withUnsafeBytes { s.feed($0) }
            offset = end
        }
        return try s.finish(query: [:], now: Self.now)
    }

    @Test(arguments: [1, 7, 4096])
    func aStreamedAudioWebhookMapsLikeTheBufferedOne(chunk: Int) throws {
        let body = Self.body(audioBytes: 200_000)
        let result = try stream(body, headers: Self.headers(for: body), chunk: chunk)
        let event = try #require(result.events.first)
        #expect(event.providerCallIds.first == "conv_Audio", "\\u escapes decoded")
        #expect(event.input.eventId == "conv_Audio:post_call_audio:1795734690")
        #expect(event.input.updates.contains { $0.field == .providerCallId && $0.value == "conv_Audio" })
        #expect(!event.input.updates.contains { $0.field == .callState })
        // the same body through the buffered parser gives the same input
        let buffered = try Webhooks(secrets: ProviderSecrets(elevenlabsSecret: Self.secret)).handle(
            .elevenlabs, WebhookRequest(path: "/webhooks/elevenlabs", headers: Self.headers(for: body), body: body), now: Self.now)
        #expect(buffered.events.first?.input == event.input)
    }

    @Test func aWrongSignatureIsRefusedAfterTheStream() throws {
        let body = Self.body(audioBytes: 10_000)
        #expect(throws: WebhookError.self) { try stream(body, headers: Self.headers(for: body, secret: "other"), chunk: 100) }
        do { _ = try stream(body, headers: Self.headers(for: body, secret: "other"), chunk: 100) } catch {
            #expect(error.status == 401)
        }
    }

    @Test func onlyPostCallAudioMayBeThisLarge() throws {
        let body = Self.body(audioBytes: 10_000, type: "post_call_transcription")
        do { _ = try stream(body, headers: Self.headers(for: body), chunk: 512); Issue.record("accepted") } catch {
            #expect(error.status == 413)
        }
    }

    @Test(arguments: [#"{"type":"post_call_audio""#, #"{"type":"post_call_audio",}}"#, #"{"a" 1}"#, #"[1,2]]"#, #"{"a":tru}"#])
    func malformedBodiesAreRejected(text: String) throws {
        let body = Array(text.utf8)
        do { _ = try stream(body, headers: Self.headers(for: body), chunk: 3); Issue.record("accepted \(text)") } catch {
            #expect(error.status == 400)
        }
    }
}
