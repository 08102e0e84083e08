import Foundation
import HubTestSupport
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

    /// Issue 27 item 3: a live call with no accepted change for
    /// `retention.staleSec` is flagged `stale` in `GET /api/calls` and
    /// filtered with `?stale=true`; the flag is derived (the call is still
    /// `connected`, its version does not move) and clears when it is heard
    /// from. An ended call is never stale; the dashboard summary says the limit.
    @Test func aSilentLiveCallIsFlaggedStaleAndFilterable() throws {
        let hub = try HubProcess(config: ["retention": ["staleSec": 1]])
        #expect(try hub.http.postJSON("/api/calls/quiet/sync", #"{"event":"connected"}"#).status == 200)
        #expect(try hub.http.postJSON("/api/calls/done/sync", #"{"event":"ended"}"#).status == 200)
        func rows(_ query: String = "") throws -> [String: [String: Any]] {
            let listed = try hub.http.get("/api/calls" + query).json["sessions"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: listed.map { ($0["sessionId"] as? String ?? "", $0) })
        }
        #expect(try rows()["quiet"]?["stale"] as? Bool == false, "just heard from")
        let deadline = Date(timeIntervalSinceNow: 10)
        while try rows()["quiet"]?["stale"] as? Bool != true, Date() < deadline { usleep(100_000) }
        let quiet = try rows()["quiet"]
        #expect(quiet?["stale"] as? Bool == true)
        #expect(quiet?["callState"] as? String == "connected", "a flag beside the state, not a state")
        #expect(try rows()["done"]?["stale"] as? Bool == false, "an ended call is never stale")
        #expect(try rows("?stale=true").keys.sorted() == ["quiet"])
        #expect(try rows("?stale=false").keys.sorted() == ["done"])
        #expect(try hub.http.get("/api/calls?stale=yes").status == 400)
        let doc = try hub.http.get("/api/calls/quiet").json
        #expect(doc["version"] as? Int == 1, "going stale changed nothing in the document")
        #expect(doc["callState"] as? String == "connected")

        let dashboard = try hub.connect("/ws/dashboard", token: .some(HubProcess.token(role: .dashboard)))
        let summary = try dashboard.nextJSON()
        #expect(summary["staleAfterMs"] as? Int == 1000)

        #expect(try hub.http.postJSON("/api/calls/quiet/sync", #"{"event":"hold"}"#).status == 200)
        #expect(try rows()["quiet"]?["stale"] as? Bool == false, "heard from again")
    }

    /// Issue 27 item 7: `/events` takes `state` as the generic webhook does,
    /// a state or client event name, as well as its object of fields.
    @Test func backendEventsTakeStateAsANameToo() throws {
        let hub = try HubProcess()
        let named = try hub.http.postJSON("/api/calls/be-str/events", #"{"id":"n-1","state":"ringing"}"#)
        #expect(named.status == 200, "\(named.text)")
        #expect(try hub.http.get("/api/calls/be-str").json["callState"] as? String == "ringing")
        let event = try hub.http.postJSON("/api/calls/be-str/events", #"{"id":"n-2","state":"accept"}"#)
        #expect(event.status == 200, "\(event.text)")
        #expect(try hub.http.get("/api/calls/be-str").json["callState"] as? String == "connected", "client event names map too")
        // The generic webhook's other spellings mean the same here: one table.
        let spelled = try hub.http.postJSON("/api/calls/be-str/events", #"{"id":"n-3","state":"on-hold"}"#)
        #expect(spelled.status == 200, "\(spelled.text)")
        #expect(try hub.http.get("/api/calls/be-str").json["callState"] as? String == "on_hold")
        for bad in [#"{"state":"nope"}"#, #"{"state":7}"#] {
            let response = try hub.http.postJSON("/api/calls/be-bad/events", bad)
            #expect(response.status == 422, "\(bad): \(response.status) \(response.text)")
        }
        #expect(try hub.http.get("/api/calls/be-bad").status == 404, "nothing applied")
        // A WebSocket report keeps the contract's object (§3.3):
        // ClientMessageTests checks that a name there is invalid_message.
    }

    /// `POST /api/calls/{id}/events` (admin, `{id, ts, state, metadata}`):
    /// applied, answered with its version, fanned out, readable, and a
    /// retried id is a duplicate, not a second version.
    @Test func backendEventsUpdateTheDocumentAndSubscribers() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/be-1")
        _ = try ws.nextJSON()
        let body = #"{"id":"crm-1","ts":1700000000000,"state":{"callState":"ringing"},"metadata":{"crmId":"A-42"}}"#
        let response = try hub.http.postJSON("/api/calls/be-1/events", body)
        #expect(response.status == 200, "\(response.text)")
        #expect(response.json["version"] as? Int == 1)
        #expect(response.json["duplicate"] as? Bool != true)
        let frame = try ws.nextJSON()
        #expect(frame["type"] as? String == "state_change")
        #expect(frame["state"] as? String == "ringing")
        #expect(frame["version"] as? Int == 1)
        let doc = try hub.http.get("/api/calls/be-1")
        #expect(doc.json["callState"] as? String == "ringing")
        #expect((doc.json["metadata"] as? [String: Any])?["crmId"] as? String == "A-42")

        let retried = try hub.http.postJSON("/api/calls/be-1/events", body)
        #expect(retried.status == 200)
        #expect(retried.json["duplicate"] as? Bool == true)
        #expect(try hub.http.get("/api/calls/be-1").json["version"] as? Int == 1)
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

/// `GET /api/calls/{id}` as a polling endpoint: ETag, 304, long-poll (issue 7 §4).
@Suite struct PollingTests {
    @Test func ifNoneMatchWithTheCurrentETagIs304() throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/etag/sync", #"{"event":"ringing","timestamp":1000}"#)
        let first = try hub.http.get("/api/calls/etag")
        let etag = try #require(first.headers["etag"])
        let again = try hub.http.get("/api/calls/etag", headers: ["If-None-Match": etag])
        #expect(again.status == 304)
        #expect(again.body.isEmpty)
        _ = try hub.http.postJSON("/api/calls/etag/sync", #"{"event":"connected","timestamp":2000}"#)
        #expect(try hub.http.get("/api/calls/etag", headers: ["If-None-Match": etag]).status == 200)
    }

    @Test func aLongPollReturnsAsSoonAsTheVersionPassesSince() throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/lp/sync", #"{"event":"ringing","timestamp":1000}"#)
        let http = hub.http
        let wrote = WriteTime()
        // The write waits until the poll is held by the hub (its connection
        // is open beside the one asking for /metrics), not for a fixed time.
        let writer = Thread {
            _ = try? HubProcess.waitUntil(timeout: 10) {
                let line = try http.get("/metrics").text.split(separator: "\n").first { $0.hasPrefix("switchboard_http_connections ") }
                return (line?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 2
            }
            wrote.mark()
            _ = try? http.postJSON("/api/calls/lp/sync", #"{"event":"connected","timestamp":2000}"#)
        }
        writer.start()
        let response = try hub.http.request("GET", "/api/calls/lp?since=1&wait=10", timeout: 15)
        let answered = Date()
        #expect(response.status == 200)
        #expect(response.json["callState"] as? String == "connected")
        #expect(response.json["version"] as? Int == 2)
        let afterWrite = wrote.at.map { answered.timeIntervalSince($0) }
        #expect(afterWrite.map { $0 >= 0 && $0 < 5 } == true,
                "woke on the change, not the timeout (\(String(describing: afterWrite)) s after the write)")
    }

    @Test func aLongPollTimesOutWith304WhenNothingChanges() throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/quiet/sync", #"{"event":"ringing","timestamp":1000}"#)
        let started = Date()
        let response = try hub.http.request("GET", "/api/calls/quiet?since=1&wait=1", timeout: 10)
        #expect(response.status == 304)
        #expect(Date().timeIntervalSince(started) >= 0.9)
        #expect(try hub.http.request("GET", "/api/calls/quiet?since=0&wait=5").status == 200, "already past since: at once")
    }
}

/// When the long-poll test's writer wrote (set on its thread, read on the test's).
private final class WriteTime: @unchecked Sendable {  // `date` only under `lock`
    private let lock = NSLock()
    private var date: Date?
    func mark() { lock.withLock { date = Date() } }
    var at: Date? { lock.withLock { date } }
}
