import Foundation
import HubTestSupport
import Testing

/// PROTOCOL.md §7 with the real SQLite journal and a real child process
/// killed with SIGKILL (issue 7).
@Suite struct DurabilityTests {
    static var sqlite: [String: Any] { ["store": ["kind": "sqlite"]] }

    @Test func everyAcknowledgedInputSurvivesKill9AndNothingIsDoubled() throws {
        let first = try HubProcess(config: Self.sqlite)
        var expected: [String: Int] = [:]
        for i in 0..<60 {
            let session = "k9-\(i % 6)"
            let response = try first.http.postJSON("/api/calls/\(session)/sync",
                #"{"id":"e\#(i)","timestamp":\#(1_000 + i),"data":{"metadata":{"n\#(i)":\#(i)}}}"#)
            #expect(response.status == 200)
            expected[session, default: 0] += 1
        }
        let epochBefore = try first.http.get("/api/calls/k9-0").headers["etag"]
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        let second = try HubProcess(config: Self.sqlite, dataDir: first.dataDir)
        for (session, count) in expected {
            let doc = try second.http.get("/api/calls/\(session)")
            #expect(doc.status == 200, "\(session) restored")
            #expect(doc.json["version"] as? Int == count, "\(session): one version per acknowledged input")
            #expect((doc.json["metadata"] as? [String: Any])?.count == count)
        }
        #expect(try second.http.get("/api/calls/k9-0").headers["etag"] == epochBefore, "same epoch and version")
        // Replaying an input that was acknowledged before the crash is still a duplicate.
        let replay = try second.http.postJSON("/api/calls/k9-0/sync", #"{"id":"e0","timestamp":1000,"data":{"metadata":{"n0":0}}}"#)
        #expect(replay.json["duplicate"] as? Bool == true)
    }

    @Test func aSubscriberResumesAcrossARestartWithTheMissedFrames() throws {
        let first = try HubProcess(config: Self.sqlite)
        let ws = try first.connect("/ws/calls/resume")
        let snapshot = try ws.nextJSON()
        let epoch = try #require(snapshot["epoch"] as? String)
        for i in 1...3 { _ = try first.http.postJSON("/api/calls/resume/sync", #"{"timestamp":\#(i),"data":{"metadata":{"k":\#(i)}}}"#) }
        var held = 0
        while held < 3 { held = try ws.nextJSON()["version"] as? Int ?? held }
        ws.socket.shutdownNow()
        for i in 4...6 { _ = try first.http.postJSON("/api/calls/resume/sync", #"{"timestamp":\#(i),"data":{"metadata":{"k":\#(i)}}}"#) }
        #expect(first.stop() == 0)

        let second = try HubProcess(config: Self.sqlite, dataDir: first.dataDir)
        let back = try second.connect("/ws/calls/resume?epoch=\(epoch)&since=3")
        let resumed = try back.nextJSON()
        #expect(resumed["type"] as? String == "snapshot")
        #expect(resumed["recovered"] as? Bool == true)
        #expect(resumed["epoch"] as? String == epoch)
        let versions = try (0..<3).map { _ in try back.nextJSON()["version"] as? Int }
        #expect(versions == [4, 5, 6])

        let stale = try second.connect("/ws/calls/resume?epoch=not-the-epoch&since=3")
        let fresh = try stale.nextJSON()
        #expect(fresh["recovered"] as? Bool == false)
        #expect((fresh["call"] as? [String: Any])?["version"] as? Int == 6)
    }

    @Test func endedSessionsLeaveMemoryAndTheJournalAfterRetention() throws {
        var config = Self.sqlite
        config["retention"] = ["endedSec": 1]
        let first = try HubProcess(config: config)
        let now = Int(Date().timeIntervalSince1970 * 1000)
        _ = try first.http.postJSON("/api/calls/short/sync", #"{"event":"connected","timestamp":\#(now - 5000)}"#)
        _ = try first.http.postJSON("/api/calls/short/sync", #"{"event":"ended","timestamp":\#(now - 4000)}"#)
        _ = try first.http.postJSON("/api/calls/long/sync", #"{"event":"connected","timestamp":\#(now)}"#)
        var gone = false
        let deadline = Date(timeIntervalSinceNow: 5)
        while !gone, Date() < deadline {
            gone = try first.http.get("/api/calls/short").status == 404
            if !gone { usleep(200_000) }
        }
        #expect(gone, "ended session dropped after retention.endedSec")
        #expect(try first.http.get("/api/calls/long").status == 200, "live sessions stay")
        #expect(first.stop() == 0)
        let second = try HubProcess(config: config, dataDir: first.dataDir)
        #expect(try second.http.get("/api/calls/short").status == 404, "and it is gone from the journal")
        #expect(try second.http.get("/api/calls/long").status == 200)
    }

    @Test func theJournalOpenedWithTheWrongKeyStopsTheStart() throws {
        let keyA = String(repeating: "ab", count: 32)
        let keyB = String(repeating: "cd", count: 32)
        let first = try HubProcess(config: ["store": ["kind": "sqlite", "encryptionKey": keyA]])
        _ = try first.http.postJSON("/api/calls/secret/sync", #"{"event":"ringing","data":{"phoneNumber":"+15550100"}}"#)
        #expect(first.stop() == 0)
        let db = try Data(contentsOf: first.dataDir.appendingPathComponent("switchboard.db"))
        #expect(db.range(of: Data("+15550100".utf8)) == nil, "PII is not stored in clear")

        let config = first.dataDir.appendingPathComponent("config.json").path
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        json["store"] = ["kind": "sqlite", "encryptionKey": keyB]
        let wrong = first.dataDir.appendingPathComponent("wrong.json")
        try JSONSerialization.data(withJSONObject: json).write(to: wrong)
        let run = try HubProcess.runToExit(arguments: ["serve", "--config", wrong.path, "--data-dir", first.dataDir.path])
        #expect(run.status != 0)
        #expect(run.output.contains("store.encryptionKey"))
    }

    @Test func snapshotsBoundWhatARestartReplaysAndLoseNothing() throws {
        let config: [String: Any] = ["store": ["kind": "sqlite", "snapshotEvery": 5]]
        let first = try HubProcess(config: config)
        for i in 0..<23 {
            let response = try first.http.postJSON("/api/calls/long-call/sync",
                #"{"id":"s\#(i)","timestamp":\#(1_000 + i),"data":{"metadata":{"k\#(i % 4)":\#(i)},"quality":{"rtt":\#(80 + i),"jitter":3,"packetLoss":0}}}"#)
            #expect(response.status == 200)
        }
        let before = try first.http.get("/api/calls/long-call")
        let timelineBefore = try first.http.get("/api/calls/long-call/timeline").json["entries"] as? [Any]
        #expect(first.stop() == 0)

        let second = try HubProcess(config: config, dataDir: first.dataDir)
        let line = try #require(second.log.split(separator: "\n").first { $0.contains("journal opened") })
        let replayed = Int(line.split(separator: " ").first { $0.hasPrefix("entries=") }?.dropFirst("entries=".count) ?? "") ?? -1
        #expect((0..<5).contains(replayed), "at most snapshotEvery inputs replayed, saw \(replayed): \(line)")
        let after = try second.http.get("/api/calls/long-call")
        #expect(after.headers["etag"] == before.headers["etag"], "same epoch and version")
        #expect(after.json["metadata"] as? NSDictionary == before.json["metadata"] as? NSDictionary)
        #expect(after.json["quality"] as? NSDictionary == before.json["quality"] as? NSDictionary)
        #expect((try second.http.get("/api/calls/long-call/timeline").json["entries"] as? [Any])?.count == timelineBefore?.count)
        #expect(try second.http.postJSON("/api/calls/long-call/sync", #"{"id":"s3","timestamp":1003}"#).json["duplicate"] as? Bool == true)
    }
}
