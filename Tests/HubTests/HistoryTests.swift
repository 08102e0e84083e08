import Foundation
import HubTestSupport
import Testing

/// PROTOCOL.md §12 (issue 25): the call archive, against a real hub process.
@Suite struct HistoryTests {
    static var sqlite: [String: Any] { ["store": ["kind": "sqlite"]] }
    static var nowMs: Int { Int(Date().timeIntervalSince1970 * 1000) }

    /// One call from `connected` at `start` to `ended` at `start + samples*1000`,
    /// with one quality sample a second in between (jitter = the sample index,
    /// so each sample is recognisable) and the given fields.
    @discardableResult
    static func call(_ hub: HubProcess, _ id: String, start: Int, samples: Int = 0, end: String = "ended",
                     fields: String = #""provider":"twilio","direction":"outbound""#) throws -> Int {
        let http = hub.http
        var r = try http.postJSON("/api/calls/\(id)/sync", #"{"event":"connected","timestamp":\#(start),"data":{\#(fields)}}"#)
        #expect(r.status == 200, "\(r.text)")
        for i in 0..<samples {
            r = try http.postJSON("/api/calls/\(id)/sync",
                                  #"{"timestamp":\#(start + 1 + i * 1000),"data":{"quality":{"latency":30,"jitter":\#(i),"packetLoss":0}}}"#)
            #expect(r.status == 200, "\(r.text)")
        }
        let endedAt = start + samples * 1000 + 2
        r = try http.postJSON("/api/calls/\(id)/sync", #"{"event":"\#(end)","timestamp":\#(endedAt)}"#)
        #expect(r.status == 200, "\(r.text)")
        return endedAt
    }

    static func history(_ hub: HubProcess, _ query: String = "") throws -> (calls: [[String: Any]], next: String?) {
        let r = try hub.http.get("/api/history" + query)
        #expect(r.status == 200, "\(r.text)")
        return ((r.json["calls"] as? [[String: Any]]) ?? [], r.json["nextCursor"] as? String)
    }

    static func waitGone(_ hub: HubProcess, _ id: String) throws -> Bool {
        try HubProcess.waitUntil(timeout: 8, every: 0.1) {
            let live = (try? hub.http.get("/api/calls").json["sessions"] as? [[String: Any]]) ?? []
            return !live.contains { $0["sessionId"] as? String == id }
        }
    }

    @Test func anEndedCallOutlivesRetentionAndARestartInTheArchive() throws {
        var config = Self.sqlite
        config["retention"] = ["endedSec": 1]
        let first = try HubProcess(config: config)
        let start = Self.nowMs - 20_000
        try Self.call(first, "kept", start: start, samples: 5)
        #expect(try Self.waitGone(first, "kept"), "dropped from memory after retention.endedSec")
        let doc = try first.http.get("/api/calls/kept")
        #expect(doc.status == 200)
        #expect(doc.json["archived"] as? Bool == true)
        #expect(doc.json["callState"] as? String == "ended")
        #expect(first.stop() == 0)

        let second = try HubProcess(config: config, dataDir: first.dataDir)
        let again = try second.http.get("/api/calls/kept")
        #expect(again.status == 200, "the archive survives the restart")
        #expect(again.json["archived"] as? Bool == true)
        #expect(again.json["provider"] as? String == "twilio")
        let quality = try second.http.get("/api/calls/kept/quality")
        #expect(quality.status == 200)
        #expect((quality.json["points"] as? [[String: Any]])?.count == 5)
        #expect(try Self.history(second).calls.map { $0["sessionId"] as? String } == ["kept"])
        let timeline = try second.http.get("/api/calls/kept/timeline")
        #expect(timeline.status == 200)
        #expect((timeline.json["entries"] as? [Any])?.count == 7, "connected, 5 samples, ended")
    }

    @Test func callsOlderThanRetentionDaysArePruned() throws {
        var config = Self.sqlite
        config["history"] = ["retentionDays": 1]
        let first = try HubProcess(config: config)
        try Self.call(first, "two-days-ago", start: Self.nowMs - 2 * 86_400_000)
        try Self.call(first, "today", start: Self.nowMs - 60_000)
        #expect(try Self.history(first).calls.map { $0["sessionId"] as? String }.contains("today"))
        #expect(first.stop() == 0)
        // A start prunes at once (and then once a minute); the restart re-archives
        // both calls from the journal first, so the old one must be pruned here.
        let second = try HubProcess(config: config, dataDir: first.dataDir)
        let ids = try HubProcess.waitUntil(timeout: 5, every: 0.1) {
            (try? Self.history(second).calls.count) == 1
        }
        #expect(ids, "the call that ended two days ago is pruned")
        #expect(try Self.history(second).calls.map { $0["sessionId"] as? String } == ["today"])
    }

    @Test func theQualitySeriesHasEverySampleOfLiveAndEndedCalls() throws {
        let hub = try HubProcess()
        let start = Self.nowMs - 60_000
        let http = hub.http
        _ = try http.postJSON("/api/calls/live/sync", #"{"event":"connected","timestamp":\#(start)}"#)
        for i in 0..<12 {
            _ = try http.postJSON("/api/calls/live/sync",
                                  #"{"timestamp":\#(start + 1 + i * 1000),"data":{"quality":{"latency":30,"jitter":\#(i),"packetLoss":0}}}"#)
        }
        let viewer = HTTPClient(port: hub.port, token: HubProcess.token(role: .viewer, sub: "v", sid: "live"))
        let live = try viewer.get("/api/calls/live/quality")
        #expect(live.status == 200, "viewer of the session may read its series")
        #expect(live.json["sessionId"] as? String == "live")
        let points = try #require(live.json["points"] as? [[String: Any]])
        #expect(points.map { $0["jitter"] as? Double } == (0..<12).map { Double($0) }, "every sample, in order")
        #expect(points.first?["ts"] as? Int == start + 1)
        for key in ["ts", "mos", "latency", "jitter", "packetLoss"] { #expect(points[0][key] != nil, "\(key)") }
        let otherViewer = HTTPClient(port: hub.port, token: HubProcess.token(role: .viewer, sub: "v", sid: "elsewhere"))
        #expect(try otherViewer.get("/api/calls/live/quality").status == 403)

        _ = try http.postJSON("/api/calls/live/sync", #"{"event":"ended","timestamp":\#(start + 20_000)}"#)
        let ended = try http.get("/api/calls/live/quality")
        #expect((ended.json["points"] as? [[String: Any]])?.count == 12)
        #expect(try http.get("/api/calls/never/quality").status == 404)
    }

    @Test func aSeriesLongerThanQualityPointsIsBucketedWithMinAvgMax() throws {
        let hub = try HubProcess(config: ["history": ["qualityPoints": 10]])
        let start = Self.nowMs - 60_000
        try Self.call(hub, "long", start: start, samples: 25)
        let r = try hub.http.get("/api/calls/long/quality")
        #expect(r.json["bucketed"] as? Bool == true)
        #expect(r.json["samples"] as? Int == 25)
        let points = try #require(r.json["points"] as? [[String: Any]])
        // 25 samples in buckets of ceil(25/10) = 3: 9 buckets, the last of 1.
        #expect(points.count == 9)
        #expect(points.map { $0["samples"] as? Int }.reduce(0) { $0 + ($1 ?? 0) } == 25)
        let first = points[0]
        #expect(first["jitter"] as? Double == 1, "average of jitter 0, 1, 2")
        #expect((first["min"] as? [String: Any])?["jitter"] as? Double == 0)
        #expect((first["max"] as? [String: Any])?["jitter"] as? Double == 2)
        #expect(first["ts"] as? Int == start + 1)
        #expect(first["tsEnd"] as? Int == start + 2001)

        let short = try HubProcess(config: ["history": ["qualityPoints": 10]])
        try Self.call(short, "fits", start: start, samples: 10)
        let whole = try short.http.get("/api/calls/fits/quality")
        #expect(whole.json["bucketed"] as? Bool == false)
        #expect((whole.json["points"] as? [[String: Any]])?.count == 10, "exactly qualityPoints samples: one point each")
    }

    @Test func historyFiltersPagesNewestFirstWithACursor() throws {
        let hub = try HubProcess()
        let base = Self.nowMs - 3_600_000
        for i in 0..<7 {
            let provider = i % 2 == 0 ? "twilio" : "telnyx"
            try Self.call(hub, "h\(i)", start: base + i * 10_000, end: i == 3 ? "busy" : "ended",
                          fields: #""provider":"\#(provider)","direction":"inbound","from":"+1555000\#(i)""#)
        }
        _ = try hub.http.postJSON("/api/calls/still-live/sync", #"{"event":"connected","timestamp":\#(base)}"#)

        let all = try Self.history(hub)
        #expect(all.calls.map { $0["sessionId"] as? String } == (0..<7).reversed().map { "h\($0)" }, "newest first, live calls absent")
        #expect(all.next == nil)
        #expect(all.calls.first?["archived"] as? Bool == true)
        #expect(try hub.metric("switchboard_history_archived_total") >= 7)
        #expect(try hub.metric("switchboard_history_write_errors_total") == 0)

        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try Self.history(hub, "?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.calls.count <= 3)
            seen += page.calls.compactMap { $0["sessionId"] as? String }
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 10
        #expect(pages == 3)
        #expect(seen == (0..<7).reversed().map { "h\($0)" }, "pages join without gaps or repeats")

        #expect(try Self.history(hub, "?provider=telnyx").calls.map { $0["sessionId"] as? String } == ["h5", "h3", "h1"])
        #expect(try Self.history(hub, "?state=busy").calls.map { $0["sessionId"] as? String } == ["h3"])
        #expect(try Self.history(hub, "?q=%2B15550004").calls.map { $0["sessionId"] as? String } == ["h4"], "q finds the number")
        let from = base + 20_000, to = base + 50_000
        #expect(try Self.history(hub, "?from=\(from)&to=\(to)").calls.map { $0["sessionId"] as? String } == ["h4", "h3", "h2"])
        #expect(try Self.history(hub, "?grade=excellent").calls.isEmpty, "no call had quality")
        #expect(try Self.history(hub, "?limit=100000").calls.count == 7, "a limit over 500 is clamped, not refused")
    }

    /// `calleeSub` (§10) is a document field: the archive files each call under it.
    @Test func calleeSubFiltersOnTheDocumentField() throws {
        let hub = try HubProcess()
        let base = Self.nowMs - 100_000
        try Self.call(hub, "to-alice", start: base, fields: #""provider":"twilio","calleeSub":"alice""#)
        try Self.call(hub, "to-bob", start: base + 1000, fields: #""provider":"twilio","calleeSub":"bob""#)
        #expect(try hub.http.get("/api/calls/to-alice").json["calleeSub"] as? String == "alice")
        #expect(try Self.history(hub, "?calleeSub=alice").calls.map { $0["sessionId"] as? String } == ["to-alice"])
        #expect(try Self.history(hub, "?calleeSub=nobody").calls.isEmpty)
    }

    @Test func badHistoryParametersAre400NamingTheAcceptedValues() throws {
        let hub = try HubProcess()
        for (query, needle) in [("?state=bogus", "ended"), ("?grade=great", "excellent"), ("?limit=0", "1 to 500"),
                                ("?limit=x", "limit"), ("?from=yesterday", "milliseconds"), ("?cursor=zzz", "cursor")] {
            let r = try hub.http.get("/api/history" + query)
            #expect(r.status == 400, "\(query)")
            let error = r.json["error"] as? [String: Any]
            #expect((error?["message"] as? String)?.contains(needle) == true, "\(query): \(r.text)")
        }
        let by = try hub.http.get("/api/quality/summary?by=week")
        #expect(by.status == 400)
        #expect(((by.json["error"] as? [String: Any])?["message"] as? String)?.contains("provider, direction, hour") == true)
        #expect(try hub.http.get("/api/history.csv?grade=great").status == 400)
    }

    @Test func historyNeedsDashboardAndErasureNeedsAdmin() throws {
        let hub = try HubProcess()
        try Self.call(hub, "guarded", start: Self.nowMs - 10_000)
        let viewer = HTTPClient(port: hub.port, token: HubProcess.token(role: .viewer, sub: "v", sid: "*"))
        let dashboard = HTTPClient(port: hub.port, token: HubProcess.token(role: .dashboard, sub: "d", sid: "*"))
        #expect(try viewer.get("/api/history").status == 403)
        #expect(try viewer.get("/api/history.csv").status == 403)
        #expect(try viewer.get("/api/quality/summary").status == 403)
        #expect(try hub.anonymous.get("/api/history").status == 401)
        #expect(try dashboard.get("/api/history").status == 200)
        #expect(try dashboard.get("/api/quality/summary").status == 200)
        #expect(try dashboard.request("DELETE", "/api/calls/guarded").status == 403)
        #expect(try viewer.request("DELETE", "/api/calls/guarded").status == 403)
        #expect(try hub.http.get("/api/calls/guarded").status == 200, "still there after refused erasures")
    }

    @Test func deleteErasesACallFromMemoryJournalAndArchive() throws {
        let first = try HubProcess(config: Self.sqlite)
        let start = Self.nowMs - 30_000
        try Self.call(first, "erase-me", start: start, samples: 3)
        try Self.call(first, "keep-me", start: start + 1, samples: 2)
        _ = try first.http.postJSON("/api/calls/erase-live/sync", #"{"event":"connected","timestamp":\#(start)}"#)
        #expect(try first.http.request("DELETE", "/api/calls/erase-me").status == 204)
        #expect(try first.http.request("DELETE", "/api/calls/erase-live").status == 204, "a live call too")
        #expect(try first.http.request("DELETE", "/api/calls/erase-me").status == 404, "nothing left the second time")
        #expect(try first.http.request("DELETE", "/api/calls/never-was").status == 404)
        #expect(try first.http.get("/api/calls/erase-me").status == 404)
        #expect(try first.http.get("/api/calls/erase-me/quality").status == 404)
        #expect(try Self.history(first).calls.map { $0["sessionId"] as? String } == ["keep-me"])
        #expect(first.stop() == 0)

        let second = try HubProcess(config: Self.sqlite, dataDir: first.dataDir)
        #expect(try second.http.get("/api/calls/erase-me").status == 404, "not back from the journal or the archive")
        #expect(try second.http.get("/api/calls/erase-live").status == 404)
        #expect(try second.http.get("/api/calls/keep-me").status == 200)
        #expect(try Self.history(second).calls.map { $0["sessionId"] as? String } == ["keep-me"])
    }

    @Test func csvExportHasAHeaderAndQuotesPerRFC4180() throws {
        let hub = try HubProcess()
        let base = Self.nowMs - 10_000
        try Self.call(hub, "csv-1", start: base, fields: #""provider":"twilio","from":"Doe, \"JJ\"""#)
        try Self.call(hub, "csv-2", start: base + 100, fields: #""provider":"telnyx""#)
        let r = try hub.http.get("/api/history.csv?provider=twilio")
        #expect(r.status == 200)
        #expect(r.headers["content-type"]?.hasPrefix("text/csv") == true)
        let lines = r.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 2, "header and one row: \(r.text)")
        #expect(lines.first?.hasPrefix("sessionId,callId,provider,direction,from,to,callState") == true)
        #expect(lines.last?.hasPrefix(#"csv-1,,twilio,,"Doe, ""JJ""",,ended,"#) == true, "\(lines.last ?? "")")
    }

    @Test func theQualitySummaryGroupsByProviderWithPercentilesGradesAndWarnings() throws {
        let hub = try HubProcess()
        let base = Self.nowMs - 600_000
        let http = hub.http
        // Three twilio calls with one sample each of known MOS, one telnyx call with none.
        for (i, mos) in [4.4, 3.8, 2.5].enumerated() {
            let id = "s\(i)"
            _ = try http.postJSON("/api/calls/\(id)/sync", #"{"event":"connected","timestamp":\#(base + i * 1000),"data":{"provider":"twilio","direction":"inbound"}}"#)
            _ = try http.postJSON("/api/calls/\(id)/sync", #"{"timestamp":\#(base + i * 1000 + 1),"data":{"quality":{"mos":\#(mos),"latency":20,"jitter":1,"packetLoss":0}}}"#)
            _ = try http.postJSON("/api/calls/\(id)/sync", #"{"event":"ended","timestamp":\#(base + i * 1000 + 2)}"#)
        }
        // Three bad samples raise low-mos.
        _ = try http.postJSON("/api/calls/warned/sync", #"{"event":"connected","timestamp":\#(base),"data":{"provider":"telnyx","direction":"outbound"}}"#)
        for i in 0..<3 {
            _ = try http.postJSON("/api/calls/warned/sync", #"{"timestamp":\#(base + 1 + i),"data":{"quality":{"mos":2.0,"latency":20,"jitter":1,"packetLoss":0}}}"#)
        }
        _ = try http.postJSON("/api/calls/warned/sync", #"{"event":"ended","timestamp":\#(base + 10)}"#)

        let r = try http.get("/api/quality/summary?by=provider")
        #expect(r.status == 200, "\(r.text)")
        let groups = try #require(r.json["groups"] as? [[String: Any]])
        let twilio = try #require(groups.first { $0["key"] as? String == "twilio" })
        #expect(twilio["calls"] as? Int == 3)
        let mos = try #require(twilio["mos"] as? [String: Any])
        #expect(mos["p50"] as? Double == 3.8)
        #expect(mos["p10"] as? Double == 2.5)
        #expect(mos["avg"] as? Double == 3.567)
        let grades = try #require(twilio["grades"] as? [String: Any])
        #expect(grades["excellent"] as? Int == 1 && grades["fair"] as? Int == 1 && grades["bad"] as? Int == 1)
        let telnyx = try #require(groups.first { $0["key"] as? String == "telnyx" })
        #expect((telnyx["warnings"] as? [String: Any])?["low-mos"] as? Int == 1)
        #expect((twilio["warnings"] as? [String: Any])?["low-mos"] as? Int == 0)

        let byDirection = try http.get("/api/quality/summary?by=direction").json["groups"] as? [[String: Any]]
        #expect(byDirection?.compactMap { $0["key"] as? String } == ["inbound", "outbound"])
        let narrow = try http.get("/api/quality/summary?from=\(base + 1500)&to=\(base + 5000)").json["groups"] as? [[String: Any]]
        #expect(narrow?.map { $0["calls"] as? Int } == [1], "from/to bound endedAt: only s2")
        let hours = try http.get("/api/quality/summary?by=hour").json["groups"] as? [[String: Any]]
        #expect(hours?.allSatisfy { ($0["key"] as? String)?.hasSuffix(":00:00Z") == true } == true)
        let telnyxHours = try http.get("/api/quality/summary?by=hour&provider=telnyx").json["groups"] as? [[String: Any]]
        #expect(telnyxHours?.map { $0["calls"] as? Int ?? 0 }.reduce(0, +) == 1, "provider narrows the summary to one provider's calls")
    }
}
