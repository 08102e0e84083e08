import Foundation
import HubTestSupport
import Testing

/// The token in `Sec-WebSocket-Protocol` (issue 30): browsers offer
/// `switchboard.v1, bearer.<token>` so the token stays out of URLs.
@Suite struct SubprotocolTokenTests {
    @Test func aTokenOfferedAsASubprotocolAuthenticatesAndOnlySwitchboardV1IsAnswered() throws {
        let hub = try HubProcess()
        let token = HubProcess.token(role: .client, sub: "browser", sid: "sp-1")
        #expect(token.utf8.count > 127, "longer than libwebsockets' 128-byte protocol buffer")
        let ws = try hub.connect("/ws/calls/sp-1", token: .some(nil),
                                 headers: ["Sec-WebSocket-Protocol": "switchboard.v1, bearer.\(token)"])
        let answer = ws.handshake.lowercased()
        #expect(answer.hasPrefix("http/1.1 101"))
        let protocolLines = answer.split(separator: "\r\n").filter { $0.hasPrefix("sec-websocket-protocol:") }
        #expect(protocolLines == ["sec-websocket-protocol: switchboard.v1"], "the 101 answers: \(protocolLines)")
        #expect(!ws.handshake.contains(token), "the token is never echoed")
        let snapshot = try ws.nextJSON()
        #expect(snapshot["type"] as? String == "snapshot")
        #expect(snapshot["sessionId"] as? String == "sp-1")

        // The role and session come from that token: a viewer token may not report.
        let viewer = HubProcess.token(role: .viewer, sub: "watcher", sid: "sp-1")
        let watching = try hub.connect("/ws/calls/sp-1", token: .some(nil),
                                       headers: ["Sec-WebSocket-Protocol": "bearer.\(viewer), switchboard.v1"])
        _ = try watching.nextJSON()
        try watching.send(#"{"type":"report","id":"r1","ts":1,"state":{"callState":"ringing"}}"#)
        var reply = try watching.nextJSON()
        while reply["type"] as? String == "presence" { reply = try watching.nextJSON() }
        #expect(reply["type"] as? String == "error")
        #expect(reply["code"] as? String == "forbidden")
        #expect(!hub.log.contains(token) && !hub.log.contains(viewer), "tokens never appear in logs")
    }

    @Test func aSubprotocolTokenIsCheckedLikeAnyOther() throws {
        let hub = try HubProcess()
        let other = HubProcess.token(role: .client, sub: "browser", sid: "someone-else")
        for (offered, status) in [("switchboard.v1, bearer.not.a.token", 401), ("switchboard.v1, bearer.\(other)", 403),
                                  ("switchboard.v1, bearer.", 401)] {
            do {
                _ = try hub.connect("/ws/calls/sp-2", token: .some(nil), headers: ["Sec-WebSocket-Protocol": offered])
                Issue.record("\(offered) upgraded")
            } catch let rejected as WSClient.Rejected {
                #expect(rejected.status == status, "\(offered) → \(rejected.status)")
            }
        }
        #expect(!hub.log.contains(other))
    }

    @Test func aTokenWithoutSwitchboardV1IsRefusedWithAClearError() throws {
        let hub = try HubProcess()
        let token = HubProcess.token(role: .client, sub: "browser", sid: "sp-3")
        do {
            _ = try hub.connect("/ws/calls/sp-3", token: .some(nil), headers: ["Sec-WebSocket-Protocol": "bearer.\(token)"])
            Issue.record("upgraded without switchboard.v1 among the offered protocols")
        } catch let rejected as WSClient.Rejected {
            #expect(rejected.status == 400)
            #expect(rejected.body.contains("switchboard.v1"))
            #expect(!rejected.body.contains(token))
        }
    }
}
