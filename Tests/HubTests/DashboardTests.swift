import Foundation
import HubTestSupport
import Testing

/// `/ws/dashboard` and `GET /api/calls` (issue 5 §5).
@Suite struct DashboardTests {
    /// Reads dashboard messages (an object, or a batch array) for `duration`.
    func collect(_ ws: WSClient, for duration: TimeInterval) throws -> [[[String: Any]]] {
        var messages: [[[String: Any]]] = []
        let deadline = Date(timeIntervalSinceNow: duration)
        while Date() < deadline {
            guard case .text(let text)? = try? ws.next(timeout: max(0.05, deadline.timeIntervalSinceNow)) else { continue }
            let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
            if let batch = value as? [[String: Any]] { messages.append(batch) } else if let one = value as? [String: Any] { messages.append([one]) }
        }
        return messages
    }

    @Test func aDashboardGetsASummaryThenRowsForSessionsThatChange() throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/before/sync", #"{"event":"ringing","timestamp":1000}"#)
        let dash = try hub.connect("/ws/dashboard")
        let summary = try dash.nextJSON()
        #expect(summary["type"] as? String == "summary")
        let rows = summary["sessions"] as? [[String: Any]] ?? []
        #expect(rows.map { $0["sessionId"] as? String } == ["before"])
        #expect(rows.first?["callState"] as? String == "ringing")

        _ = try hub.http.postJSON("/api/calls/call-a/sync", #"{"event":"connected","timestamp":2000}"#)
        _ = try hub.http.postJSON("/api/calls/call-b/sync", #"{"event":"ringing","timestamp":2000}"#)
        let seen = try collect(dash, for: 1.0).flatMap { $0 }.filter { $0["type"] as? String == "session" }
        #expect(Set(seen.compactMap { $0["sessionId"] as? String }) == ["call-a", "call-b"])
        #expect(seen.first { $0["sessionId"] as? String == "call-a" }?["callState"] as? String == "connected")
    }

    @Test func aBurstOverManySessionsArrivesBatchedAtMostOneRowPerSessionPerInterval() throws {
        let hub = try HubProcess(config: ["dashboard": ["intervalMs": 250], "limits": ["httpWriteBurst": 1000]])
        let dash = try hub.connect("/ws/dashboard")
        _ = try dash.nextJSON()
        // 40 sessions × 3 changes each, as fast as the hub takes them.
        for round in 0..<3 {
            for i in 0..<40 {
                let response = try hub.http.postJSON("/api/calls/burst-\(i)/sync",
                    #"{"event":"ringing","data":{"metadata":{"r":\#(round)}},"timestamp":\#(1000 + round)}"#)
                #expect(response.status == 200)
            }
        }
        let messages = try collect(dash, for: 1.5)
        let rows = messages.flatMap { $0 }.filter { ($0["sessionId"] as? String)?.hasPrefix("burst-") == true }
        #expect(Set(rows.compactMap { $0["sessionId"] as? String }).count == 40, "every session shows up")
        #expect(messages.count < 40, "rows arrive batched: \(messages.count) messages for \(rows.count) rows")
        for batch in messages {
            let ids = batch.compactMap { $0["sessionId"] as? String }
            #expect(ids.count == Set(ids).count, "at most one row per session per flush")
        }
    }

    @Test func listingCallsFiltersByState() throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/one/sync", #"{"event":"ringing","timestamp":1000}"#)
        _ = try hub.http.postJSON("/api/calls/two/sync", #"{"event":"connected","timestamp":1000}"#)
        let all = try hub.http.get("/api/calls").json["sessions"] as? [[String: Any]] ?? []
        #expect(all.count == 2)
        let ringing = try hub.http.get("/api/calls?state=ringing").json["sessions"] as? [[String: Any]] ?? []
        #expect(ringing.map { $0["sessionId"] as? String } == ["one"])
    }

    @Test func anUnknownFilterValueIs400NamingTheAcceptedOnes() throws {
        let hub = try HubProcess()
        let bogus = try hub.http.get("/api/calls?state=bogus")
        #expect(bogus.status == 400)
        #expect(bogus.text.contains("ringing") && bogus.text.contains("no_answer"))
        #expect(try hub.http.get("/api/calls?grade=superb").status == 400)
    }

    @Test func aClientTokenWithoutASessionIsNotMinted() throws {
        let run = try HubProcess.runToExit(arguments: ["token", "--sub", "me", "--role", "client", "--data-dir",
                                                       FileManager.default.temporaryDirectory.path])
        #expect(run.status != 0)
        #expect(run.output.contains("--sid"))
    }

    /// Issue 27 item 7: a token mistake is answered with the token
    /// command's usage, never the top-level `switchboard <subcommand>`.
    @Test func tokenErrorsPrintTheTokenCommandsUsage() throws {
        let dataDir = FileManager.default.temporaryDirectory.path
        for arguments in [["--sub", "me", "--role", "client"], ["--sub", "me", "--role", "nope"],
                          ["--sub", "me", "--role", "admin", "--ttl", "999999"]] {
            let run = try HubProcess.runToExit(arguments: ["token"] + arguments + ["--data-dir", dataDir])
            #expect(run.status != 0, "\(arguments)")
            #expect(run.output.contains("Usage: switchboard token "), "\(arguments): \(run.output)")
            #expect(!run.output.contains("switchboard <subcommand>"), "\(arguments): \(run.output)")
        }
    }
}

/// `switchboard simulate` twice against one hub: the second run's calls are
/// new sessions, not reports landing in the first run's ended calls (issue 27).
@Suite struct SimulateTests {
    @Test func everyRunSimulatesNewSessions() throws {
        let hub = try WebhookRouteTests.startHub()
        var prefixes: [String] = []
        for _ in 0..<2 {
            let run = try HubProcess.runToExit(arguments: [
                "simulate", "--url", "http://127.0.0.1:\(hub.port)",
                "--config", hub.dataDir.appendingPathComponent("config.json").path,
                "--calls", "2", "--rate", "50", "--talk-seconds", "0.1",
            ])
            #expect(run.status == 0, "\(run.output)")
            let line = run.output.split(separator: "\n").first { $0.hasPrefix("simulating") } ?? ""
            prefixes.append(String(line.split(separator: " ").dropFirst(4).first?.dropLast(2) ?? ""))
        }
        #expect(prefixes.count == 2 && prefixes[0] != prefixes[1], "\(prefixes)")
        let sessions = try hub.http.get("/api/calls").json["sessions"] as? [[String: Any]] ?? []
        #expect(Set(sessions.compactMap { $0["sessionId"] as? String }).count == 4)
    }
}
