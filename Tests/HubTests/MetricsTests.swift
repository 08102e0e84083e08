import Foundation
import Testing

/// `GET /metrics` in Prometheus text format (issue 9 §3).
@Suite struct MetricsTests {
    @Test func metricsCountConnectionsSessionsFramesAndWebhookOutcomes() throws {
        let hub = try WebhookRouteTests.startHub()
        let ws = try hub.connect("/ws/calls/m-1")
        _ = try ws.nextJSON()
        _ = try hub.http.postJSON("/api/calls/m-1/sync", #"{"event":"connected","timestamp":1000}"#)
        _ = try ws.nextJSON()
        _ = try hub.http.request("POST", "/api/twilio/status?session=m-1",
                                 headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array("CallSid=CA1".utf8))
        let response = try hub.http.get("/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
        let text = response.text
        #expect(text.contains("# TYPE switchboard_connections gauge"))
        #expect(text.contains(#"switchboard_connections{endpoint="calls"} 1"#))
        #expect(text.contains(#"switchboard_sessions{callState="connected"} 1"#))
        #expect(text.contains("switchboard_calls_total 1"))
        #expect(text.contains("switchboard_calls_answered_total 1"))
        #expect(text.contains(#"switchboard_webhook_requests_total{provider="twilio",outcome="unauthorized"} 1"#))
        #expect(text.contains(#"switchboard_signature_failures_total{provider="twilio"} 1"#))
        let frames = text.split(separator: "\n").first { $0.hasPrefix("switchboard_frames_sent_total ") }
        #expect(frames.flatMap { Int($0.split(separator: " ")[1]) }.map { $0 >= 2 } == true, "snapshot + state_change written")
    }
}
