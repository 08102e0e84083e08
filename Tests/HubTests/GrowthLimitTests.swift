import Foundation
import HubTestSupport
import Testing

/// What one input may make a session grow to (issue 19 item 7):
/// `limits.maxMetadataKeys`, `limits.maxMetadataValueBytes`,
/// `limits.maxDocumentBytes` → 422 / `invalid_message`, nothing applied or
/// journaled; and the per-token HTTP write rate → 429 with `Retry-After`.
@Suite struct GrowthLimitTests {
    /// A `/sync` body carrying `count` new metadata keys, padded to about
    /// `count * 15` bytes.
    static func manyKeys(_ count: Int, prefix: String) -> String {
        var data = ""
        data.reserveCapacity(count * 16)
        for n in 0..<count { data += (n == 0 ? "" : ",") + #""\#(prefix)\#(n)":"v""# }
        return #"{"event":"connected","data":{"metadata":{\#(data)}}}"#
    }

    static func errorCode(_ response: HTTPClient.Response) -> String? {
        (response.json["error"] as? [String: Any])?["code"] as? String
    }

    @Test func sixHugeSyncsWithFiftyThousandKeysAreRefusedAndTheCallStaysWatchable() throws {
        let hub = try HubProcess(config: ["store": ["kind": "sqlite"]])
        let watcher = try hub.connect("/ws/calls/x")
        #expect(try watcher.nextJSON()["type"] as? String == "snapshot")
        let client = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "attacker", sid: "x"))
        for round in 0..<6 {
            let body = Self.manyKeys(50_000, prefix: "k\(round)_")
            #expect(body.utf8.count > 700_000)
            // a debug build takes seconds to parse 750 KB of JSON
            let response = try client.request("POST", "/api/calls/x/sync", headers: ["Content-Type": "application/json"],
                                              body: Array(body.utf8), timeout: 60)
            #expect(response.status == 422)
            #expect(Self.errorCode(response) == "invalid_message")
            #expect(response.text.contains("limits.maxMetadataKeys"))
        }
        let doc = try hub.http.get("/api/calls/x")
        #expect(doc.body.count < 65536, "the document stays small")
        #expect((doc.json["metadata"] as? [String: Any])?.isEmpty ?? true)
        // the watcher is still connected and served
        try watcher.send(#"{"type":"ping","id":"still-here"}"#)
        var pong: [String: Any] = [:]
        while pong["type"] as? String != "pong" { pong = try watcher.nextJSON() }
        #expect(pong["id"] as? String == "still-here")
        // and a new subscriber gets its snapshot
        let late = try hub.connect("/ws/calls/x")
        #expect(try late.nextJSON()["type"] as? String == "snapshot")
        // nothing was journaled: a restart on the same data holds no such key
        _ = hub.stop()
        let again = try HubProcess(config: ["store": ["kind": "sqlite"]], dataDir: hub.dataDir)
        let restored = try again.http.get("/api/calls/x")
        #expect(restored.status == 404 || ((restored.json["metadata"] as? [String: Any])?.isEmpty ?? true))
    }

    @Test func metadataKeysBeyondTheLimitAreRefusedWholeOverWebSocket() throws {
        let hub = try HubProcess(config: ["limits": ["maxMetadataKeys": 3]])
        let ws = try hub.connect("/ws/calls/keys")
        _ = try ws.nextJSON()
        try ws.send(#"{"type":"report","id":"r1","metadata":{"a":1,"b":2}}"#)
        #expect(try nextReply(ws)["type"] as? String == "ack")
        try ws.send(#"{"type":"report","id":"r2","state":{"callState":"ringing"},"metadata":{"c":3,"d":4}}"#)
        let refused = try nextReply(ws)
        #expect(refused["type"] as? String == "error")
        #expect(refused["code"] as? String == "invalid_message")
        #expect(refused["id"] as? String == "r2")
        let doc = try hub.http.get("/api/calls/keys").json
        #expect(doc["callState"] as? String == nil, "nothing of the refused report was applied")
        #expect((doc["metadata"] as? [String: Any])?.count == 2)
        // existing keys may change, and one more fits
        try ws.send(#"{"type":"report","id":"r3","metadata":{"a":"x","c":3}}"#)
        #expect(try nextReply(ws)["type"] as? String == "ack")
        try ws.send(#"{"type":"report","id":"r4","metadata":{"e":5}}"#)
        #expect(try nextReply(ws)["code"] as? String == "invalid_message")
    }

    @Test func aMetadataValueOverTheLimitIsRefused() throws {
        let hub = try HubProcess(config: ["limits": ["maxMetadataValueBytes": 100]])
        let ws = try hub.connect("/ws/calls/values")
        _ = try ws.nextJSON()
        let big = String(repeating: "x", count: 101)
        try ws.send(#"{"type":"report","id":"v1","metadata":{"note":"\#(big)"}}"#)
        let refused = try nextReply(ws)
        #expect(refused["code"] as? String == "invalid_message")
        #expect((refused["message"] as? String)?.contains("limits.maxMetadataValueBytes") == true)
        try ws.send(#"{"type":"report","id":"v2","metadata":{"note":"\#(big.dropLast())"}}"#)
        #expect(try nextReply(ws)["type"] as? String == "ack")
    }

    @Test func anInputThatWouldGrowTheDocumentPastTheLimitIsRefused() throws {
        let hub = try HubProcess(config: ["limits": ["maxDocumentBytes": 4096, "maxMetadataValueBytes": 4096]])
        let value = String(repeating: "y", count: 900)
        var accepted = 0
        var refusal: HTTPClient.Response?
        for n in 0..<10 {
            let response = try hub.http.postJSON("/api/calls/doc/events", #"{"id":"e\#(n)","metadata":{"k\#(n)":"\#(value)"}}"#)
            if response.status == 200 { accepted += 1 } else { refusal = response; break }
        }
        #expect(accepted == 3, "three 900-byte values fit in 4 KiB with the document's other fields")
        #expect(refusal?.status == 422)
        #expect(refusal.map(Self.errorCode) == "invalid_message")
        #expect(refusal?.text.contains("limits.maxDocumentBytes") == true)
        let doc = try hub.http.get("/api/calls/doc")
        #expect(doc.body.count <= 4096 + 64, "the document (plus presence) stays within the limit")
        // replacing a value by one of the same size still fits
        #expect(try hub.http.postJSON("/api/calls/doc/events", #"{"id":"r","metadata":{"k0":"\#(value.uppercased())"}}"#).status == 200)
    }

    @Test func aSignedWebhookOverTheLimitsIsRefusedWhole() throws {
        let hub = try WebhookRouteTests.startHub(["limits": ["maxMetadataKeys": 4]])
        let body = #"{"id":"big","state":"connected","metadata":{"a":1,"b":2,"c":3,"d":4,"e":5}}"#
        let response = try hub.http.postJSON("/webhooks/generic/wh-limit", body,
                                              headers: ["X-Switchboard-Signature": WebhookRouteTests.switchboardSignature(body)])
        #expect(response.status == 422)
        #expect(Self.errorCode(response) == "invalid_message")
        #expect(try hub.http.get("/api/calls/wh-limit").status == 404)
    }

    @Test func httpWritesPastTheTokenRateAre429WithRetryAfter() throws {
        let hub = try HubProcess(config: ["limits": ["httpWritesPerSecond": 1, "httpWriteBurst": 3]])
        let client = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "fast", sid: "rate"))
        for n in 0..<3 {
            #expect(try client.postJSON("/api/calls/rate/sync", #"{"event":"ringing","id":"s\#(n)"}"#).status == 200)
        }
        let limited = try client.postJSON("/api/calls/rate/sync", #"{"event":"connected","id":"s3"}"#)
        #expect(limited.status == 429)
        #expect(limited.headers["retry-after"].flatMap(Int.init).map { $0 >= 1 } == true)
        #expect(Self.errorCode(limited) == "rate_limited")
        #expect(try hub.http.get("/api/calls/rate").json["callState"] as? String == "ringing", "the limited write was not applied")
        // another token has its own bucket
        let other = HTTPClient(port: hub.port, token: HubProcess.token(role: .client, sub: "calm", sid: "rate"))
        #expect(try other.postJSON("/api/calls/rate/sync", #"{"event":"connected","id":"o1"}"#).status == 200)
    }

    /// The next frame that answers a message (skips state changes and presence).
    func nextReply(_ ws: WSClient) throws -> [String: Any] {
        while true {
            let frame = try ws.nextJSON()
            if let type = frame["type"] as? String, type == "ack" || type == "error" { return frame }
        }
    }
}
