import Foundation
import HubTestSupport
import Testing

/// `GET /metrics` in Prometheus text format (issue 9 §3).
@Suite struct MetricsTests {
    @Test func aFreshHubExportsEveryFamilyWithZeroSeriesAndProcessMetrics() throws {
        let hub = try HubProcess()
        let text = try hub.http.get("/metrics").text
        for line in [#"switchboard_webhook_requests_total{provider="twilio",outcome="ok"} 0"#,
                     #"switchboard_merge_conflicts_total{rule="tie"} 0"#, "switchboard_frames_sent_total 0",
                     #"switchboard_inputs_total{sourceKind="client"} 0"#, "# TYPE switchboard_quality_mos histogram",
                     "switchboard_build_info{version=", "process_resident_memory_bytes ", "process_open_fds ",
                     "process_cpu_seconds_total "] {
            #expect(text.contains(line), "\(line)")
        }
    }

    @Test func aDataDirThatIsAFileStopsTheStartWithASentence() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sb-not-a-dir-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try HubProcess.runToExit(arguments: ["serve", "--port", "0", "--data-dir", file.path])
        #expect(run.status == 73)
        #expect(run.output.contains("is not a directory"))
    }

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

    /// The hub reads a connection's address once and keeps it until the
    /// connection is gone: the gauge counts the kept addresses, so an entry
    /// that outlived its connection would show here.
    @Test func httpConnectionsAreCountedWhileOpenAndForgottenWhenClosed() throws {
        let hub = try WebhookRouteTests.startHub()
        func gauge() throws -> Int? {
            let text = try hub.http.get("/metrics").text
            let line = text.split(separator: "\n").first { $0.hasPrefix("switchboard_http_connections ") }
            return line.flatMap { Int($0.split(separator: " ")[1]) }
        }
        /// The gauge once it settles at `expected` (a closed scrape connection is destroyed shortly after).
        func gauge(settlingAt expected: Int) throws -> Int? {
            let deadline = Date().addingTimeInterval(5)
            var value = try gauge()
            while value != expected && Date() < deadline {
                usleep(20_000)
                value = try gauge()
            }
            return value
        }
        // Only the scrape's own connection.
        #expect(try gauge(settlingAt: 1) == 1)
        let keptAlive = try (0..<3).map { _ in try TestSocket(port: hub.port) }
        for socket in keptAlive {
            // Two requests per connection: still one connection each.
            for _ in 0..<2 {
                try socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let head = try socket.read(until: Array("\r\n\r\n".utf8), deadline: Date().addingTimeInterval(5))
                #expect(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                _ = try socket.read(until: Array("}".utf8), deadline: Date().addingTimeInterval(5))
            }
        }
        #expect(try gauge(settlingAt: 4) == 4)
        for socket in keptAlive { socket.shutdownNow() }
        #expect(try gauge(settlingAt: 1) == 1)
    }
}
