import Foundation
import HubTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// PROTOCOL.md §9 (issue 22): several real hub processes on one real
/// `redis-server`, real sockets. Serialized: each test runs up to three hubs
/// and a Redis on a shared two-core machine.
@Suite(.serialized) struct ClusterTests {
    static func node(_ redis: RedisProcess, _ id: String, _ extra: [String: Any] = [:], dataDir: URL? = nil) throws -> HubProcess {
        var config: [String: Any] = [
            "store": ["kind": "redis", "url": redis.url],
            "cluster": ["nodeId": id],
        ]
        config = HubProcess.merging(extra, into: config)
        return try HubProcess(config: config, dataDir: dataDir)
    }

    static func sync(_ hub: HubProcess, _ session: String, _ i: Int) throws -> HTTPClient.Response {
        try hub.http.postJSON("/api/calls/\(session)/sync",
                              #"{"id":"e\#(i)","timestamp":\#(1_000 + i),"data":{"metadata":{"n\#(i)":\#(i)}}}"#)
    }

    static func version(_ hub: HubProcess, _ session: String) -> Int? {
        guard let doc = try? hub.http.get("/api/calls/\(session)"), doc.status == 200 else { return nil }
        return doc.json["version"] as? Int
    }

    @Test func inputsSpreadOverThreeNodesGiveIdenticalDocumentsAndVersions() throws {
        let redis = try RedisProcess()
        let nodes = try ["a", "b", "c"].map { try Self.node(redis, $0) }
        var rng = SystemRandomNumberGenerator()
        var counts: [String: Int] = [:]
        for i in 0..<90 {
            let session = "spread-\(i % 4)"
            let hub = nodes[Int(rng.next() % 3)]
            let response = try Self.sync(hub, session, i)
            #expect(response.status == 200, "\(response.text)")
            counts[session, default: 0] += 1
            // The answer carries the version every node gives this input.
            #expect(response.json["version"] as? Int == counts[session])
        }
        for (session, count) in counts {
            for hub in nodes {
                #expect(HubProcess.waitUntil(timeout: 10) { Self.version(hub, session) == count }, "\(session) on \(hub.port)")
            }
            let bodies = try nodes.map { try $0.http.get("/api/calls/\(session)").text }
            #expect(Set(bodies).count == 1, "\(session): \(bodies)")
            let timelines = try nodes.map { try $0.http.get("/api/calls/\(session)/timeline").text }
            #expect(Set(timelines).count == 1, "\(session) timelines differ")
        }
        // GET /api/calls lists every session on every node.
        for hub in nodes {
            let rows = try hub.http.get("/api/calls").json["sessions"] as? [[String: Any]] ?? []
            #expect(Set(rows.compactMap { $0["sessionId"] as? String }) == Set(counts.keys))
        }
    }

    @Test func aSubscriberOnOneNodeGetsEveryInputPostedToAnotherOnceAndInOrder() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "a")
        let b = try Self.node(redis, "b")
        let ws = try a.connect("/ws/calls/fan")
        let snapshot = try ws.nextJSON()
        #expect(snapshot["type"] as? String == "snapshot")
        for i in 1...30 { #expect(try Self.sync(b, "fan", i).status == 200) }
        var versions: [Int] = []
        while versions.count < 30 {
            let frame = try ws.nextJSON()
            if frame["type"] as? String == "state_change", let v = frame["version"] as? Int { versions.append(v) }
        }
        #expect(versions == Array(1...30))
        // Nothing twice: the next frame, if any, is not another state_change.
        if let extra = try? ws.nextJSON(timeout: 1) {
            #expect(extra["type"] as? String != "state_change", "\(extra)")
        }
        // The epoch the subscriber saw before the session's first input is the
        // one the cluster gave it: a resume with it on the other node is recovered.
        let epoch = try #require(snapshot["epoch"] as? String)
        let resumed = try b.connect("/ws/calls/fan?epoch=\(epoch)&since=28")
        let first = try resumed.nextJSON()
        #expect(first["recovered"] as? Bool == true, "\(first)")
        #expect(try b.http.get("/api/calls/fan").headers["etag"] == a.http.get("/api/calls/fan").headers["etag"])
    }

    @Test func everyAcknowledgedInputSurvivesKill9OfTheNodeThatTookIt() throws {
        let redis = try RedisProcess()
        // Above the per-token HTTP write rate: the writer must not stop at a 429.
        let fast: [String: Any] = ["limits": ["httpWritesPerSecond": 100_000, "httpWriteBurst": 100_000]]
        let a = try Self.node(redis, "a", fast)
        let b = try Self.node(redis, "b", fast)
        let acked = LockedList()
        let port = a.port
        let writer = Thread {
            let client = HTTPClient(port: port, token: HubProcess.token(role: .admin, sub: "admin"))
            for i in 0..<500 {
                // Ten sessions: 50 metadata keys each stays under limits.maxMetadataKeys.
                guard let r = try? client.postJSON("/api/calls/k9-\(i % 10)/sync",
                                                   #"{"id":"e\#(i)","timestamp":\#(1_000 + i),"data":{"metadata":{"n\#(i)":\#(i)}}}"#),
                      r.status == 200 else { return }
                acked.append(i)
            }
        }
        writer.start()
        #expect(HubProcess.waitUntil(timeout: 30) { acked.count >= 100 })
        kill(a.process.processIdentifier, SIGKILL)
        a.process.waitUntilExit()
        #expect(HubProcess.waitUntil(timeout: 10) { writer.isFinished })
        let done = acked.values
        #expect(done.count >= 100 && done.count < 500, "killed in the middle: \(done.count) acknowledged")
        // Every acknowledged input is in the document on the other node.
        let again = try Self.node(redis, "a", fast, dataDir: a.dataDir)
        for s in 0..<10 {
            let session = "k9-\(s)"
            let mine = done.filter { $0 % 10 == s }
            #expect(HubProcess.waitUntil(timeout: 10) { (Self.version(b, session) ?? 0) >= mine.count })
            let metadata = try b.http.get("/api/calls/\(session)").json["metadata"] as? [String: Any] ?? [:]
            let missing = mine.filter { metadata["n\($0)"] == nil }
            #expect(missing.isEmpty, "\(session) lost: \(missing)")
            // The node comes back with the same document as its peer.
            #expect(try again.http.get("/api/calls/\(session)").text == b.http.get("/api/calls/\(session)").text)
        }
    }

    @Test func writesAre503WhileRedisIsDownAndResumeWithoutARestart() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "a")
        let b = try Self.node(redis, "b")
        for i in 0..<10 { #expect(try Self.sync(i % 2 == 0 ? a : b, "down", i).status == 200) }
        let ws = try b.connect("/ws/calls/down")
        _ = try ws.nextJSON()
        // A writer keeps posting to a through the outage (its own session):
        // whatever it got a 2xx for must be there afterwards.
        let acked = LockedList()
        let refusedWhileDown = LockedList()
        let stopWriting = LockedList()
        let port = a.port
        let writer = Thread {
            let client = HTTPClient(port: port, token: HubProcess.token(role: .admin, sub: "flow"))
            var i = 0
            // 40 sessions × at most 60 keys: under limits.maxMetadataKeys.
            while stopWriting.count == 0 && i < 2400 {
                let r = try? client.postJSON("/api/calls/flow-\(i % 40)/sync",
                                             #"{"id":"f\#(i)","timestamp":\#(1_000 + i),"data":{"metadata":{"f\#(i)":\#(i)}}}"#)
                if r?.status == 200 { acked.append(i) } else { refusedWhileDown.append(i) }
                i += 1
                usleep(5_000)
            }
        }
        writer.start()
        #expect(HubProcess.waitUntil(timeout: 10) { acked.count >= 20 })
        redis.stop()

        let refused = try Self.sync(a, "down", 100)
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.json["error"] as? String == "store_unavailable" || refused.text.contains("store_unavailable"))
        #expect(refused.headers["retry-after"] != nil)
        #expect(HubProcess.waitUntil(timeout: 5) { (try? a.http.get("/readyz").status) == 503 })
        #expect(HubProcess.waitUntil(timeout: 5) { (try? b.http.get("/readyz").status) == 503 })
        // Reads keep serving.
        #expect(try a.http.get("/api/calls/down").status == 200)
        #expect(Self.version(b, "down") == 10)

        try redis.start()
        #expect(HubProcess.waitUntil(timeout: 15, every: 0.2) { (try? Self.sync(a, "down", 11).status) == 200 },
                "writes resume once Redis is back")
        #expect(HubProcess.waitUntil(timeout: 10) { (try? a.http.get("/readyz").status) == 200 })
        #expect(HubProcess.waitUntil(timeout: 10) { (try? b.http.get("/readyz").status) == 200 })
        // The open socket on the other node sees the new input (v11).
        var seen = 0
        while seen < 11 {
            let frame = try ws.nextJSON(timeout: 10)
            if let v = frame["version"] as? Int { seen = v }
        }
        #expect(seen == 11)
        let metadata = try b.http.get("/api/calls/down").json["metadata"] as? [String: Any] ?? [:]
        #expect((Array(0..<10) + [11]).allSatisfy { metadata["n\($0)"] != nil }, "nothing acknowledged lost: \(metadata.keys.sorted())")
        #expect(metadata["n100"] == nil, "the refused input was not applied")
        stopWriting.append(1)
        #expect(HubProcess.waitUntil(timeout: 20) { writer.isFinished })
        let flowed = acked.values
        #expect(refusedWhileDown.count > 0, "the writer ran through the outage")
        #expect(flowed.last ?? 0 > refusedWhileDown.values.first ?? .max, "and was acknowledged again after it")
        for s in 0..<40 {
            let mine = flowed.filter { $0 % 40 == s }
            for hub in [a, b] {
                #expect(HubProcess.waitUntil(timeout: 10) {
                    let keys = ((try? hub.http.get("/api/calls/flow-\(s)").json["metadata"]) as? [String: Any]) ?? [:]
                    return mine.allSatisfy { keys["f\($0)"] != nil }
                }, "flow-\(s) on \(hub.port): every input acknowledged across the outage is there")
            }
        }
    }

    @Test func aResumeMovedToAnotherNodeAndAcrossARestartIsRecovered() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "a")
        let b = try Self.node(redis, "b")
        let ws = try a.connect("/ws/calls/move")
        let epoch = try #require(try ws.nextJSON()["epoch"] as? String)
        for i in 1...3 { #expect(try Self.sync(a, "move", i).status == 200) }
        var held = 0
        while held < 3 { held = try ws.nextJSON()["version"] as? Int ?? held }
        ws.socket.shutdownNow()
        for i in 4...6 { #expect(try Self.sync(b, "move", i).status == 200) }

        let moved = try b.connect("/ws/calls/move?epoch=\(epoch)&since=3")
        let resumed = try moved.nextJSON()
        #expect(resumed["recovered"] as? Bool == true, "\(resumed)")
        #expect(try (0..<3).map { _ in try moved.nextJSON()["version"] as? Int } == [4, 5, 6])

        // After a restart the node rebuilds the replay window from Redis.
        #expect(b.stop() == 0)
        let restarted = try Self.node(redis, "b", dataDir: b.dataDir)
        let back = try restarted.connect("/ws/calls/move?epoch=\(epoch)&since=2")
        let again = try back.nextJSON()
        #expect(again["recovered"] as? Bool == true, "\(again)")
        #expect(try (0..<4).map { _ in try back.nextJSON()["version"] as? Int } == [3, 4, 5, 6])
    }

    @Test func startIsRefusedWhenRedisDoesNotFsyncEveryWrite() throws {
        let redis = try RedisProcess(fsync: "everysec")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config: [String: Any] = [
            "server": ["host": "127.0.0.1", "port": 0],
            "auth": ["hs256Secret": HubProcess.secret],
            "store": ["kind": "redis", "url": redis.url],
        ]
        let configURL = dir.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let run = try HubProcess.runToExit(arguments: ["serve", "--config", configURL.path, "--data-dir", dir.path])
        #expect(run.status == 78, "\(run.output)")
        #expect(run.output.contains("appendfsync"), "\(run.output)")

        // A store.url that is not a redis:// URL is a configuration error too.
        var bad = config
        bad["store"] = ["kind": "redis", "url": "http://127.0.0.1:\(redis.port)"]
        try JSONSerialization.data(withJSONObject: bad).write(to: configURL)
        let badRun = try HubProcess.runToExit(arguments: ["serve", "--config", configURL.path, "--data-dir", dir.path])
        #expect(badRun.status == 78, "\(badRun.output)")
        #expect(badRun.output.contains("store.url"), "\(badRun.output)")

        // With replicas to WAIT for, the same Redis is accepted (it then has
        // none, so each write fails its WAIT: 503, never a false 2xx).
        let waiting = try Self.node(redis, "w", ["store": ["kind": "redis", "url": redis.url, "redisReplicas": 1]])
        let r = try Self.sync(waiting, "wait", 1)
        #expect(r.status == 503, "\(r.text)")
    }

    @Test func theClusterTableListsEveryNode() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "node-a")
        let b = try Self.node(redis, "node-b")
        let ws = try b.connect("/ws/calls/table")
        _ = try ws.nextJSON()
        var table: [String: Any] = [:]
        #expect(HubProcess.waitUntil(timeout: 10, every: 0.2) {
            table = (try? a.http.get("/api/cluster").json) ?? [:]
            let nodes = table["nodes"] as? [[String: Any]] ?? []
            return nodes.compactMap { $0["nodeId"] as? String } == ["node-a", "node-b"]
                && nodes.contains { $0["nodeId"] as? String == "node-b" && $0["connections"] as? Int == 1 }
        }, "\(table)")
        #expect(table["nodeId"] as? String == "node-a")
        let client = HTTPClient(port: a.port, token: HubProcess.token(role: .client, sid: "*"))
        #expect(try client.get("/api/cluster").status == 403)
    }

    @Test func aDashboardOnOneNodeShowsSessionsCreatedThroughAnother() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "a")
        let b = try Self.node(redis, "b")
        let dash = try a.connect("/ws/dashboard")
        #expect(try dash.nextJSON()["type"] as? String == "summary")
        #expect(try b.http.postJSON("/api/calls/dash-1/sync", #"{"event":"ringing","timestamp":1000}"#).status == 200)
        var seen = false
        let deadline = Date(timeIntervalSinceNow: 5)
        while !seen, Date() < deadline {
            guard case .text(let text) = try dash.next(timeout: 5) else { break }
            seen = text.contains("\"dash-1\"")
        }
        #expect(seen, "a's dashboard gets the row of a session only b was told about")
    }

    /// With `store.snapshotEvery` 1 the lease holder checkpoints every 20 log
    /// entries and trims the log; a node started afterwards rebuilds from the
    /// checkpoint plus the rest of the log to the same documents, dedupe
    /// memory included.
    @Test func aNodeStartedAfterTheLogWasTrimmedRebuildsFromTheCheckpoint() throws {
        let redis = try RedisProcess()
        let config: [String: Any] = ["store": ["kind": "redis", "url": redis.url, "snapshotEvery": 1]]
        let a = try Self.node(redis, "a", config)
        let b = try Self.node(redis, "b", config)
        // The timer lease is taken within a heartbeat (1 s) of the first start.
        #expect(HubProcess.waitUntil(timeout: 5) { (try? redis.cli(["EXISTS", "switchboard:timers"]))?.hasPrefix("1") == true })
        var counts: [String: Int] = [:]
        // A session changed only before the first checkpoint: later ones,
        // which write only what changed, must keep its snapshot.
        for i in 0..<25 {
            #expect(try Self.sync(a, "ckpt-still", 500 + i).status == 200)
            counts["ckpt-still", default: 0] += 1
        }
        for i in 0..<120 {
            let session = "ckpt-\(i % 4)"
            #expect(try Self.sync(i % 3 == 0 ? b : a, session, i).status == 200)
            counts[session, default: 0] += 1
        }
        for (session, count) in counts {
            #expect(HubProcess.waitUntil(timeout: 10) { Self.version(a, session) == count && Self.version(b, session) == count })
        }
        #expect(HubProcess.waitUntil(timeout: 5) {
            let length = Int((try? redis.cli(["XLEN", "switchboard:log"]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            return length > 0 && length < 145
        }, "the log is trimmed: \((try? redis.cli(["XLEN", "switchboard:log"])) ?? "")")
        #expect(try redis.cli(["HEXISTS", "switchboard:checkpoint", "id"]).hasPrefix("1"))

        let c = try Self.node(redis, "c", config)
        #expect(c.log.contains("checkpoint=") && !c.log.contains("checkpoint=none"), "\(c.log)")
        for session in counts.keys {
            #expect(try c.http.get("/api/calls/\(session)").text == b.http.get("/api/calls/\(session)").text, "\(session)")
        }
        let replay = try Self.sync(c, "ckpt-0", 0)
        #expect(replay.json["duplicate"] as? Bool == true, "an input acknowledged before the checkpoint is still a duplicate")
        #expect(try Self.sync(c, "ckpt-0", 1000).json["version"] as? Int == counts["ckpt-0"]! + 1)
    }

    /// Retention is one `drop` record, proposed by the lease holder: every
    /// node forgets the ended session, and a restarted node does too; a
    /// session watched on another node stays.
    @Test func retentionDropsAnEndedSessionOnEveryNodeOnce() throws {
        let redis = try RedisProcess()
        let config: [String: Any] = ["retention": ["endedSec": 1]]
        let a = try Self.node(redis, "a", config)
        let b = try Self.node(redis, "b", config)
        let watched = try b.connect("/ws/calls/watched")
        _ = try watched.nextJSON()
        let now = Int(Date().timeIntervalSince1970 * 1000)
        for session in ["short", "watched"] {
            #expect(try a.http.postJSON("/api/calls/\(session)/sync", #"{"event":"connected","timestamp":\#(now - 5000)}"#).status == 200)
        }
        // a knows of b's watcher (heartbeats) before the session ends.
        #expect(HubProcess.waitUntil(timeout: 5) {
            (((try? a.http.get("/api/calls/watched").json["presence"]) as? [Any]) ?? []).count == 1
        })
        for session in ["short", "watched"] {
            #expect(try b.http.postJSON("/api/calls/\(session)/sync", #"{"event":"ended","timestamp":\#(now - 4000)}"#).status == 200)
        }
        #expect(try a.http.postJSON("/api/calls/long/sync", #"{"event":"connected","timestamp":\#(now)}"#).status == 200)
        // §12: a call that left memory is served from the node's archive, marked so.
        func archived(_ hub: HubProcess, _ session: String) -> Bool {
            ((try? hub.http.get("/api/calls/\(session)").json["archived"]) as? Bool) == true
        }
        #expect(HubProcess.waitUntil(timeout: 8, every: 0.2) { archived(a, "short") && archived(b, "short") },
                "the ended session leaves both nodes' memory")
        #expect(try a.http.get("/api/calls/long").status == 200 && !archived(a, "long"), "live sessions stay")
        #expect(!archived(a, "watched") && !archived(b, "watched"), "a session watched on b stays in memory, on a too")
        usleep(2_500_000)
        let log = try redis.cli(["XRANGE", "switchboard:log", "-", "+"])
        #expect(log.split(separator: "\n").filter { $0 == "drop" }.count == 1, "one drop record:\n\(log)")
        #expect(b.stop() == 0)
        let restarted = try Self.node(redis, "b", config, dataDir: b.dataDir)
        #expect(archived(restarted, "short"), "a restarted node replays the drop; its own archive still has the call")
        #expect(try restarted.http.get("/api/calls/long").status == 200 && !archived(restarted, "long"))
    }

    /// A short syncStatus window and a signed Twilio webhook, for the timer tests.
    static var timerConfig: [String: Any] { [
        "merge": ["pendingWindowMs": 400, "maxFutureSkewMs": 5000],
        "server": ["publicUrl": WebhookRouteTests.publicUrl],
        "providers": ["twilio": ["authToken": WebhookRouteTests.twilioToken]],
    ] }

    /// When the lease holder dies, another node takes the lease (3 s) and
    /// the timers keep firing: the syncStatus flip happens on the survivor.
    @Test func timersMoveToAnotherNodeWhenTheLeaseHolderIsKilled() throws {
        let redis = try RedisProcess()
        let config = Self.timerConfig
        let a = try Self.node(redis, "a", config)
        let b = try Self.node(redis, "b", config)
        var holder = ""
        #expect(HubProcess.waitUntil(timeout: 5) {
            holder = (try? redis.cli(["GET", "switchboard:timers"]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return holder.hasPrefix("a/") || holder.hasPrefix("b/")
        })
        let (leader, survivor) = holder.hasPrefix("a/") ? (a, b) : (b, a)
        kill(leader.process.processIdentifier, SIGKILL)
        leader.process.waitUntilExit()

        let ws = try survivor.connect("/ws/calls/failover")
        _ = try ws.nextJSON()
        let now = Int(Date().timeIntervalSince1970 * 1000)
        try ws.send(#"{"type":"report","id":"c1","ts":\#(now),"state":{"callState":"connected"}}"#)
        let form = "CallSid=CAfailover&CallStatus=ringing&SequenceNumber=1&Timestamp=" + WebhookRouteTests.rfc2822(now)
        #expect(try WebhookRouteTests.postTwilio(survivor, "/api/twilio/status?session=failover", form: form).status == 204)
        #expect(HubProcess.waitUntil(timeout: 10, every: 0.1) {
            ((try? survivor.http.get("/api/calls/failover").json["syncStatus"]) as? String) == "conflict"
        }, "the survivor took the lease and ticked the session")
        let taken = try redis.cli(["GET", "switchboard:timers"])
        #expect(!taken.hasPrefix(holder) && !taken.isEmpty, "lease now: \(taken)")
    }

    /// A user watching on one node is present on every node: in the other
    /// node's presence frames and in `presence` of the document there.
    @Test func presenceIsClusterWide() throws {
        let redis = try RedisProcess()
        let a = try Self.node(redis, "a")
        let b = try Self.node(redis, "b")
        #expect(try Self.sync(a, "pres", 1).status == 200)
        #expect(HubProcess.waitUntil(timeout: 5) { Self.version(b, "pres") == 1 })
        let alice = try a.connect("/ws/calls/pres", token: HubProcess.token(role: .client, sub: "alice", sid: "*"))
        _ = try alice.nextJSON()
        let bob = try b.connect("/ws/calls/pres", token: HubProcess.token(role: .client, sub: "bob", sid: "*"))
        _ = try bob.nextJSON()

        func presenceFrame(_ ws: WSClient, _ key: String, _ sub: String) -> Bool {
            let deadline = Date(timeIntervalSinceNow: 8)
            while Date() < deadline {
                guard let frame = try? ws.nextJSON(timeout: 1), frame["type"] as? String == "presence" else { continue }
                let subs = (frame[key] as? [[String: Any]] ?? []).compactMap { $0["sub"] as? String }
                if subs.contains(sub) { return true }
            }
            return false
        }
        #expect(presenceFrame(alice, "joined", "bob"), "alice, on a, sees bob join on b")
        func subs(_ hub: HubProcess) -> [String] {
            let list = (try? hub.http.get("/api/calls/pres").json["presence"]) as? [[String: Any]] ?? []
            return list.compactMap { $0["sub"] as? String }
        }
        #expect(HubProcess.waitUntil(timeout: 8) { subs(a) == ["alice", "bob"] && subs(b) == ["alice", "bob"] },
                "a: \(subs(a)), b: \(subs(b))")
        #expect(try a.http.get("/api/calls/pres").text == b.http.get("/api/calls/pres").text)

        bob.socket.shutdownNow()
        #expect(presenceFrame(alice, "left", "bob"), "alice sees bob leave")
        #expect(HubProcess.waitUntil(timeout: 8) { subs(a) == ["alice"] && subs(b) == ["alice"] })
    }

    /// The syncStatus flip (pending → conflict after `merge.pendingWindowMs`)
    /// is one tick record in the log, proposed by the lease holder alone and
    /// applied by every node at the same hub time.
    @Test func aSyncStatusTimerFiresOncePerCluster() throws {
        let redis = try RedisProcess()
        let config = Self.timerConfig
        let a = try Self.node(redis, "a", config)
        let b = try Self.node(redis, "b", config)
        let ws = try b.connect("/ws/calls/timer")
        _ = try ws.nextJSON()
        let now = Int(Date().timeIntervalSince1970 * 1000)
        try ws.send(#"{"type":"report","id":"c1","ts":\#(now),"state":{"callState":"connected"}}"#)
        let form = "CallSid=CAtimer&CallStatus=ringing&SequenceNumber=1&Timestamp=" + WebhookRouteTests.rfc2822(now)
        #expect(try WebhookRouteTests.postTwilio(a, "/api/twilio/status?session=timer", form: form).status == 204)
        func status(_ hub: HubProcess) -> String? {
            (try? hub.http.get("/api/calls/timer").json["syncStatus"]) as? String
        }
        #expect(HubProcess.waitUntil(timeout: 10) { status(a) == "conflict" && status(b) == "conflict" })
        // Presence is per node (the subscriber is on b): compared without it.
        func document(_ hub: HubProcess) -> NSDictionary? {
            guard var json = try? hub.http.get("/api/calls/timer").json else { return nil }
            json["presence"] = nil
            return json as NSDictionary
        }
        #expect(HubProcess.waitUntil(timeout: 5) { document(a) != nil && document(a) == document(b) },
                "the same document, version and flip time on both nodes: \(String(describing: document(a))) \(String(describing: document(b)))")
        // Longer than a lease holder's re-proposal delay (2 s): still one tick.
        usleep(2_500_000)
        let log = try redis.cli(["XRANGE", "switchboard:log", "-", "+"])
        let ticks = log.split(separator: "\n").filter { $0 == "tick" }.count
        #expect(ticks == 1, "tick records in the log: \(ticks)\n\(log)")
    }
}

/// Indices acknowledged by the writer thread, read by the test.
final class LockedList: @unchecked Sendable {  // `items` is only touched under `lock`
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ value: Int) { lock.lock(); items.append(value); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return items }
}
