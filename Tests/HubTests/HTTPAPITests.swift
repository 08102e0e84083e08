import Foundation
import Testing

/// The seed-shaped `/sync` route and the document read (issue 2 §4).
@Suite struct HTTPAPITests {
    @Test func syncInTheSeedShapeUpdatesTheDocumentAndSubscribers() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/seed-1")
        _ = try ws.nextJSON()
        let response = try hub.http.postJSON("/api/calls/seed-1/sync",
            #"{"event":"ringing","data":{"callUUID":"6F1B","direction":"inbound","phoneNumber":"+15550100"},"timestamp":1700000000000}"#)
        #expect(response.status == 200)
        #expect(response.json["version"] as? Int == 1)
        let frame = try ws.nextJSON()
        #expect(frame["type"] as? String == "state_change")
        #expect(frame["state"] as? String == "ringing")
        #expect(frame["quality"] != nil)
        let doc = try hub.http.get("/api/calls/seed-1")
        #expect(doc.status == 200)
        #expect(doc.json["callUUID"] as? String == "6F1B")
        #expect(doc.headers["etag"]?.hasSuffix(".1\"") == true)
    }

    @Test func syncRejectsBadInputWithJSONErrors() throws {
        let hub = try HubProcess()
        let http = hub.http
        let notJSON = try http.postJSON("/api/calls/s/sync", "{oops")
        #expect(notJSON.status == 400)
        #expect((notJSON.json["error"] as? [String: Any])?["code"] as? String == "invalid_json")
        #expect(try http.postJSON("/api/calls/s/sync", #"{"event":"teleported"}"#).status == 422)
        #expect(try http.request("POST", "/api/calls/s/sync", headers: ["Content-Type": "text/plain"], body: Array("x".utf8)).status == 415)
        #expect(try http.postJSON("/api/calls/bad%20id/sync", "{}").status == 400)
        #expect(try http.get("/api/calls/s/sync").status == 405)
        #expect(try http.get("/api/calls/never-seen").status == 404)
        #expect(try http.get("/api/nothing-here").status == 404)
    }

    @Test func aBodyOverTheLimitIs413() throws {
        let hub = try HubProcess(config: ["limits": ["maxBodyBytes": 2048]])
        let big = #"{"event":"ringing","data":{"metadata":{"pad":"\#(String(repeating: "z", count: 4000))"}}}"#
        let response = try hub.http.postJSON("/api/calls/s/sync", big)
        #expect(response.status == 413)
        #expect(try hub.http.get("/api/calls/s").status == 404, "nothing was applied")
    }
}
