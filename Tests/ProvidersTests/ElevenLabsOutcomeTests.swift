import CallState
import Foundation
import JSONCodec
@testable import Providers
import Testing

/// Issue 29: a `post_call_transcription` keeps the AI call's outcome in
/// `metadata` (agent, duration, verdict, bounded summary), never the transcript.
@Suite struct ElevenLabsOutcomeTests {
    let now: Int64 = 1_795_734_700_000

    /// The repo's fixture: ElevenLabs' documented payload with a full `analysis`.
    static func analysisFixture() throws -> [UInt8] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/providers/elevenlabs-post-call-transcription-analysis.json").path
        guard let data = FileManager.default.contents(atPath: path) else { throw Fixtures.FixtureMissing(path: path) }
        return [UInt8](data)
    }

    func signed(_ body: [UInt8]) -> WebhookRequest {
        WebhookRequest(path: "/webhooks/elevenlabs",
                       headers: ["content-type": "application/json",
                                 "elevenlabs-signature": SignatureHeader.sign(secret: "wsec_test", timestamp: now / 1000,
                                                                              body: body, scheme: "v0")],
                       body: body)
    }

    func handle(_ body: [UInt8], secrets: ProviderSecrets = secrets()) throws -> Input {
        try #require(Webhooks(secrets: secrets).handle(.elevenlabs, signed(body), now: now).events.first).input
    }

    @Test func analysisFillsTheOutcomeKeysAndTheSummaryIsBounded() throws {
        let input = try handle(Self.analysisFixture())
        #expect(input.state(.ended))
        #expect(input.value(.metadata("agentId")) == "agent_7f3c2a")
        #expect(input.value(.metadata("callDurationSecs")) == .int(118))
        #expect(input.value(.metadata("callSuccessful")) == "success")
        let summary = try #require(input.value(.metadata("transcriptSummary"))?.stringValue)
        #expect(summary.count == 500, "cut to providers.elevenlabs.summaryMaxChars (500)")
        #expect(summary.hasSuffix("…"))
        #expect(summary.hasPrefix("The agent called Dana for her weekly accountability check-in."))
        // Nothing of the transcript, the evaluation or the cost is kept.
        let everything = input.updates.map { JSONCodec.encodeString($0.value) }.joined()
        #expect(!everything.contains("two out of three") && !everything.contains("Saturday mornings then"))
        #expect(Set(input.updates.compactMap { if case .metadata(let k) = $0.field { k } else { nil } })
                == ["agentId", "callDurationSecs", "callSuccessful", "transcriptSummary"])
    }

    @Test func theSharedFixtureFillsAgentDurationAndVerdict() throws {
        let input = try handle(Fixtures.bytes("providers/elevenlabs-post-call-transcription.json"))
        #expect(input.value(.metadata("agentId")) == "agent_7f3c2a")
        #expect(input.value(.metadata("callDurationSecs")) == .int(42))
        #expect(input.value(.metadata("callSuccessful")) == "success")
        #expect(input.value(.metadata("transcriptSummary")) == nil, "the fixture has no summary")
    }

    @Test func theSummaryLimitIsConfigurableAndZeroKeepsNone() throws {
        var short = secrets()
        short.elevenlabsSummaryMaxChars = 40
        let cut = try #require(handle(Self.analysisFixture(), secrets: short).value(.metadata("transcriptSummary"))?.stringValue)
        #expect(cut.count == 40 && cut.hasSuffix("…"))
        var none = secrets()
        none.elevenlabsSummaryMaxChars = 0
        let input = try handle(Self.analysisFixture(), secrets: none)
        #expect(input.value(.metadata("transcriptSummary")) == nil)
        #expect(input.value(.metadata("callSuccessful")) == "success")
        var roomy = secrets()
        roomy.elevenlabsSummaryMaxChars = 10_000
        let whole = try #require(handle(Self.analysisFixture(), secrets: roomy).value(.metadata("transcriptSummary"))?.stringValue)
        #expect(whole.count == 668 && !whole.hasSuffix("…"), "a summary within the limit is kept whole")
    }

    @Test func aFractionalDurationIsKeptAndAWrongTypeIs400() throws {
        let text = #"{"type":"post_call_transcription","event_timestamp":1,"data":{"conversation_id":"c","metadata":{"call_duration_secs":12.5}}}"#
        #expect(try handle(Array(text.utf8)).value(.metadata("callDurationSecs")) == .double(12.5))
        let bad = #"{"type":"post_call_transcription","event_timestamp":1,"data":{"conversation_id":"c","analysis":{"call_successful":true}}}"#
        let request = signed(Array(bad.utf8))
        #expect(status { () throws(WebhookError) in try Webhooks(secrets: secrets()).handle(.elevenlabs, request, now: now) } == 400)
    }
}
