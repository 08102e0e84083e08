import Foundation
import HubTestSupport
import Testing

/// Issue 29: an ElevenLabs `post_call_transcription` with analysis leaves
/// the AI call's outcome in the document's `metadata`, and the dashboard's
/// detail pane shows it.
@Suite struct ElevenLabsOutcomeHubTests {
    /// The repo's fixture (Tests/fixtures/providers): ElevenLabs' documented
    /// payload with a full `analysis`, for session `sess-outcome`.
    static func analysisFixture() throws -> String {
        try String(contentsOf: HubProcess.repoRoot.appendingPathComponent(
            "Tests/fixtures/providers/elevenlabs-post-call-transcription-analysis.json"), encoding: .utf8)
    }

    static func post(_ hub: HubProcess, _ body: String) throws -> Int {
        try hub.http.request("POST", "/webhooks/elevenlabs", headers: ProviderFixtureTests.elevenLabsHeaders(body),
                             body: Array(body.utf8)).status
    }

    @Test func anAnalysedTranscriptionKeepsAgentDurationVerdictAndABoundedSummary() throws {
        let hub = try ProviderFixtureTests.hub()
        #expect(try Self.post(hub, Self.analysisFixture()) == 200)
        let doc = try hub.http.get("/api/calls/sess-outcome").json
        #expect(doc["callState"] as? String == "ended")
        let metadata = try #require(doc["metadata"] as? [String: Any])
        #expect(metadata["agentId"] as? String == "agent_7f3c2a")
        #expect(metadata["callDurationSecs"] as? Int == 118)
        #expect(metadata["callSuccessful"] as? String == "success")
        let summary = try #require(metadata["transcriptSummary"] as? String)
        #expect(summary.count == 500 && summary.hasSuffix("…"))
        // The transcript stays out of the document.
        let raw = try hub.http.get("/api/calls/sess-outcome").text
        #expect(!raw.contains("two out of three"))

        // The shared fixture (analysis without a summary) fills the rest.
        #expect(try Self.post(hub, WebhookRouteTests.fixture("elevenlabs-post-call-transcription.json")) == 200)
        let shared = try #require(try hub.http.get("/api/calls/sess-42").json["metadata"] as? [String: Any])
        #expect(shared["agentId"] as? String == "agent_7f3c2a")
        #expect(shared["callDurationSecs"] as? Int == 42)
        #expect(shared["callSuccessful"] as? String == "success")
        #expect(shared["transcriptSummary"] == nil)
    }

    @Test func summaryMaxCharsBoundsTheSummary() throws {
        let hub = try ProviderFixtureTests.hub(["providers": [
            "elevenlabs": ["secret": WebhookRouteTests.secret, "summaryMaxChars": 60],
        ]])
        #expect(try Self.post(hub, Self.analysisFixture()) == 200)
        let metadata = try #require(try hub.http.get("/api/calls/sess-outcome").json["metadata"] as? [String: Any])
        #expect((metadata["transcriptSummary"] as? String)?.count == 60)
    }

    @Test func theDetailPaneShowsTheAICallOutcome() throws {
        let hub = try ProviderFixtureTests.hub()
        #expect(try Self.post(hub, Self.analysisFixture()) == 200)
        let token = HubProcess.token(role: .dashboard, sub: "e2e")
        let browser = try Chromium(url: "http://127.0.0.1:\(hub.port)/#token=\(token)")
        // The page keeps the token and drops it from the URL; `#call=` opens a call's detail.
        #expect(try browser.waitUntil("!!document.querySelector('tr[data-id=\"sess-outcome\"]')", timeout: 15) != nil)
        _ = try browser.evaluate("location.hash = 'call=sess-outcome'")
        let shown = try browser.waitUntil("""
            (() => { const p = document.getElementById('d-outcome');
              return !!p && !p.hidden && document.getElementById('d-verdict').textContent === 'success'; })()
            """, timeout: 15)
        #expect(shown != nil, "the outcome panel appeared")
        #expect(try browser.evaluate("document.getElementById('d-verdict').className") as? String == "badge verdict verdict-success")
        #expect(try browser.evaluate("document.getElementById('d-agent').textContent") as? String == "agent_7f3c2a")
        #expect(try browser.evaluate("document.getElementById('d-call-duration').textContent") as? String == "1:58  (118 s)")
        let summary = try browser.evaluate("document.getElementById('d-summary').textContent") as? String
        #expect(summary?.hasPrefix("The agent called Dana") == true && summary?.count == 500)
        try browser.screenshot(to: HubProcess.repoRoot.appendingPathComponent("test-artifacts/dashboard-ai-outcome.png"))

        // A call without an AI outcome hides the panel.
        _ = try hub.http.postJSON("/api/calls/plain/sync", #"{"event":"ringing"}"#)
        _ = try browser.evaluate("location.hash = 'call=plain'")
        let hidden = try browser.waitUntil("""
            document.getElementById('d-title').textContent === 'plain' && document.getElementById('d-fields').textContent.includes('ringing') && document.getElementById('d-outcome').hidden
            """, timeout: 10)
        #expect(hidden != nil)
    }
}
