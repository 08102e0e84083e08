import Foundation
import HubTestSupport
import Testing

/// Bad input on a WebSocket gets an `error` frame and the connection lives on
/// (PROTOCOL.md §3.3); abuse and oversize messages close it (§3.4).
@Suite struct ClientMessageTests {
    func expectError(_ ws: WSClient, code: String, id: String? = nil) throws {
        let frame = try ws.nextJSON()
        #expect(frame["type"] as? String == "error")
        #expect(frame["code"] as? String == code)
        if let id { #expect(frame["id"] as? String == id) }
        #expect((frame["message"] as? String)?.isEmpty == false)
    }

    @Test func malformedMessagesGetErrorFramesAndTheConnectionSurvives() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/bad-input")
        _ = try ws.nextJSON()
        try ws.send("{not json")
        try expectError(ws, code: "invalid_json")
        try ws.send("[1,2,3]")
        try expectError(ws, code: "invalid_message")
        try ws.send(#"{"type":"teleport","id":"t1"}"#)
        try expectError(ws, code: "unknown_type", id: "t1")
        try ws.send(#"{"type":"report","id":"r1","state":"ringing"}"#)
        try expectError(ws, code: "invalid_message", id: "r1")
        try ws.send(#"{"type":"report","id":"r2","state":{"direction":"sideways"}}"#)
        try expectError(ws, code: "invalid_message", id: "r2")
        try ws.send(#"{"type":"report","id":"r3","ts":"yesterday","state":{"callState":"ringing"}}"#)
        try expectError(ws, code: "invalid_message", id: "r3")
        // nothing of the rejected reports was applied
        #expect(try hub.http.get("/api/calls/bad-input").json["version"] as? Int == 0)
        try ws.send(#"{"type":"ping","id":"p1"}"#)
        let pong = try ws.nextJSON()
        #expect(pong["type"] as? String == "pong")
        #expect(pong["id"] as? String == "p1")
    }

    @Test func tooManyErrorsInAMinuteCloseWith4400() throws {
        let hub = try HubProcess(config: ["limits": ["maxErrorsPerMinute": 3]])
        let ws = try hub.connect("/ws/calls/abuse")
        _ = try ws.nextJSON()
        for _ in 0..<4 { try ws.send("nope") }
        #expect(try ws.closeCode() == 4400)
    }

    @Test func aMessageOverTheLimitClosesWith1009() throws {
        let hub = try HubProcess(config: ["limits": ["maxMessageBytes": 1024]])
        let ws = try hub.connect("/ws/calls/big")
        _ = try ws.nextJSON()
        let padding = String(repeating: "x", count: 2000)
        try ws.send(#"{"type":"report","id":"big","state":{"metadata":{"pad":"\#(padding)"}}}"#)
        #expect(try ws.closeCode() == 1009)
        // the limit is per message: a small one on a new connection is fine
        let other = try hub.connect("/ws/calls/big")
        _ = try other.nextJSON()
        try other.send(#"{"type":"ping","id":"after"}"#)
        #expect(try other.nextJSON()["type"] as? String == "pong")
    }

    @Test func aMessageSplitAcrossFragmentsIsReassembled() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/fragments")
        _ = try ws.nextJSON()
        let text = Array(#"{"type":"ping","id":"split"}"#.utf8)
        try ws.sendFrame(Array(text[..<10]), opcode: 0x1, fin: false)
        try ws.sendFrame(Array(text[10...]), opcode: 0x0, fin: true)
        #expect(try ws.nextJSON()["id"] as? String == "split")
    }
}
