import Foundation
import HubTestSupport
import Testing

/// Per-session channels over real WebSockets against a real hub (issue 2 §3).
@Suite struct SessionChannelTests {
    func report(_ id: String, ts: Int, state: String) -> String {
        #"{"type":"report","id":"\#(id)","ts":\#(ts),"state":{"callState":"\#(state)","metadata":{"step":"\#(id)"}}}"#
    }

    @Test func firstFrameIsASnapshotThenEverySubscriberGetsEveryChangeInVersionOrder() throws {
        let hub = try HubProcess()
        let subscribers = try (0..<3).map { _ in try hub.connect("/ws/calls/call-1") }
        for s in subscribers {
            let snapshot = try s.nextJSON()
            #expect(snapshot["type"] as? String == "snapshot")
            #expect(snapshot["sessionId"] as? String == "call-1")
            #expect(snapshot["version"] as? Int == 0)
            #expect(snapshot["recovered"] as? Bool == false)
            #expect(snapshot["call"] is [String: Any])
        }
        let reporter = subscribers[0]
        let base = Int(Date().timeIntervalSince1970 * 1000) - 60_000
        for i in 1...20 {
            try reporter.send(#"{"type":"report","id":"r\#(i)","ts":\#(base + i),"state":{"metadata":{"n":\#(i)}}}"#)
        }
        for (index, s) in subscribers.enumerated() {
            var versions: [Int] = []
            var acks = 0
            while versions.count < 20 {
                let frame = try s.nextJSON()
                switch frame["type"] as? String {
                case "state_change":
                    versions.append(frame["version"] as? Int ?? -1)
                    #expect(frame["call"] is [String: Any])
                    #expect(frame["epoch"] is String)
                case "ack":
                    #expect(index == 0, "only the sender gets acks")
                    acks += 1
                default:
                    Issue.record("unexpected frame \(frame)")
                }
            }
            #expect(versions == Array(1...20), "subscriber \(index) saw \(versions)")
        }
    }

    @Test func aLateSubscriberSnapshotAlreadyHoldsEarlierChanges() throws {
        let hub = try HubProcess()
        let first = try hub.connect("/ws/calls/late")
        _ = try first.nextJSON()
        try first.send(report("a", ts: 1_000, state: "ringing"))
        #expect(try first.nextJSON()["type"] as? String == "state_change")
        let late = try hub.connect("/ws/calls/late")
        let snapshot = try late.nextJSON()
        #expect(snapshot["version"] as? Int == 1)
        #expect((snapshot["call"] as? [String: Any])?["callState"] as? String == "ringing")
    }

    @Test func twoSessionsDoNotLeakIntoEachOther() throws {
        let hub = try HubProcess()
        let a = try hub.connect("/ws/calls/session-a")
        let b = try hub.connect("/ws/calls/session-b")
        _ = try a.nextJSON()
        _ = try b.nextJSON()
        try a.send(report("x", ts: 5_000, state: "connected"))
        let change = try a.nextJSON()
        #expect(change["sessionId"] as? String == "session-a")
        #expect(throws: TestSocket.Timeout.self) { _ = try b.next(timeout: 0.5) }
        let docB = try hub.http.get("/api/calls/session-b").json
        #expect(docB["callState"] == nil || docB["callState"] is NSNull)
    }

    @Test func reportIsAcknowledgedWithAppliedAndReadOnlyFields() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/acks")
        _ = try ws.nextJSON()
        try ws.send(#"{"type":"report","id":"r1","ts":1000,"state":{"callState":"accept","logStatus":"ended","bogus":1}}"#)
        var ack: [String: Any] = [:]
        while ack["type"] as? String != "ack" { ack = try ws.nextJSON() }
        #expect(ack["id"] as? String == "r1")
        #expect(ack["applied"] as? [String] == ["callState"])
        let ignored = (ack["ignored"] as? [[String: Any]] ?? []).map { "\($0["field"]!):\($0["reason"]!)" }
        #expect(ignored.contains("logStatus:read_only"))
        #expect(ignored.contains("bogus:unknown_field"))
        #expect(ack["duplicate"] as? Bool == false)
        // the client vocabulary maps `accept` to connected (PROTOCOL.md §1.1)
        #expect(try hub.http.get("/api/calls/acks").json["callState"] as? String == "connected")
    }

    @Test func upgradeWithAnInvalidSessionIdIsRefusedBeforeTheHandshake() throws {
        let hub = try HubProcess()
        for bad in ["/ws/calls/has%20space", "/ws/calls/" + String(repeating: "x", count: 129), "/ws/calls/", "/ws/nothing"] {
            do {
                _ = try hub.connect(bad)
                Issue.record("\(bad) was upgraded")
            } catch let rejected as WSClient.Rejected {
                #expect(rejected.status == 400 || rejected.status == 404, "\(bad) → \(rejected.status)")
                #expect(rejected.body.contains("\"error\""))
            }
        }
    }
}
