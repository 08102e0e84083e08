import Foundation
import HubTestSupport
import Testing

/// Issue 20: damage to the journal is detected, never served as an empty or
/// shorter truth. Each test acknowledges inputs on the real hub, kills it
/// with SIGKILL, damages the data directory the way the issue's table did,
/// and restarts the real binary.
@Suite struct JournalIntegrityTests {
    /// Commits stay in the WAL (no timed checkpoint), as in the issue's report.
    static var walOnly: [String: Any] { ["store": ["kind": "sqlite", "checkpointIntervalMs": 0]] }
    static let inputs = 100

    /// 100 acknowledged inputs over 5 sessions, then kill -9. The hub owns
    /// the data directory: keep it alive while the directory is used.
    static func acknowledgedThenKilled(config: [String: Any] = walOnly) throws -> HubProcess {
        let hub = try HubProcess(config: config)
        for i in 1...inputs {
            let response = try hub.http.postJSON("/api/calls/s\(i % 5)/sync",
                #"{"id":"e\#(i)","timestamp":\#(i),"data":{"metadata":{"n\#(i)":\#(i)}}}"#)
            #expect(response.status == 200)
        }
        kill(hub.process.processIdentifier, SIGKILL)
        hub.process.waitUntilExit()
        return hub
    }

    static func file(_ dir: URL, _ name: String = "switchboard.db") -> URL { dir.appendingPathComponent(name) }

    /// `serve` expected to refuse; `timeout` ends a hub that started
    /// anyway (status 124), so a regression fails instead of hanging.
    static func serve(_ dir: URL, _ extra: [String] = []) throws -> (status: Int32, output: String) {
        try HubProcess.runToExit(URL(fileURLWithPath: "/usr/bin/timeout"),
                                 arguments: ["20", HubProcess.binary.path, "serve", "--config",
                                             dir.appendingPathComponent("config.json").path,
                                             "--data-dir", dir.path] + extra + ["--port", "0"])
    }

    static func verify(_ dir: URL) throws -> (status: Int32, output: String) {
        try HubProcess.runToExit(arguments: ["journal", "verify", "--config", dir.appendingPathComponent("config.json").path,
                                             "--data-dir", dir.path])
    }

    /// Acknowledged inputs a restarted hub serves: the metadata keys of every session.
    static func served(_ hub: HubProcess) throws -> Int {
        try (0..<5).reduce(0) { sum, s in
            let doc = try hub.http.get("/api/calls/s\(s)")
            return sum + (doc.status == 200 ? (doc.json["metadata"] as? [String: Any])?.count ?? 0 : 0)
        }
    }

    /// A damaged journal: `verify` finds it (65), `serve` refuses with 78 and
    /// says why, and `serve --recover` starts, logs the loss and sets the files aside.
    static func expectRefusalThenRecovery(_ dir: URL, problem: String, lost: String) throws {
        let check = try verify(dir)
        #expect(check.status == 65, "verify finds the damage: \(check.output)")
        #expect(check.output.contains(problem), "\(check.output)")
        let refused = try serve(dir)
        #expect(refused.status == 78, "exit 78, not a silent start: \(refused.output)")
        #expect(refused.output.contains(problem) && refused.output.contains("refusing to start"), "\(refused.output)")
        #expect(!refused.output.contains("listening on"))

        let recovered = try HubProcess(config: walOnly, arguments: ["--recover"], dataDir: dir)
        #expect(recovered.log.contains("journal recovery: moved the damaged files to"), "\(recovered.log)")
        #expect(recovered.log.contains(lost), "the loss is named: \(recovered.log)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".damaged-") }
        #expect(aside.count == 1, "damaged files kept aside: \(aside)")
        #expect(recovered.stop() == 0)
        #expect(try verify(dir).status == 0, "the recovered journal checks out")
    }

    @Test func aDeletedWALStopsTheStartInsteadOfServingNothing() throws {
        let killed = try Self.acknowledgedThenKilled()
        let dir = killed.dataDir
        try FileManager.default.removeItem(at: Self.file(dir, "switchboard.db-wal"))
        try? FileManager.default.removeItem(at: Self.file(dir, "switchboard.db-shm"))
        try Self.expectRefusalThenRecovery(dir, problem: "switchboard.db-wal is missing",
                                           lost: "whatever the missing WAL held")
    }

    @Test func anEmptiedDatabaseWithItsWALKeptStopsTheStart() throws {
        let killed = try Self.acknowledgedThenKilled()
        let dir = killed.dataDir
        try Data().write(to: Self.file(dir))
        try Self.expectRefusalThenRecovery(dir, problem: "is empty (0 bytes)",
                                           lost: "lost: session s1 (the whole session): 20 inputs")
    }

    @Test func randomBytesInTheMiddleOfTheWALStopTheStart() throws {
        let killed = try Self.acknowledgedThenKilled()
        let dir = killed.dataDir
        let wal = Self.file(dir, "switchboard.db-wal")
        var bytes = try Data(contentsOf: wal)
        let middle = bytes.count / 2
        var rng = SystemRandomNumberGenerator()
        for i in 0..<512 { bytes[middle + i] = UInt8.random(in: 0...255, using: &rng) }
        try bytes.write(to: wal)
        try Self.expectRefusalThenRecovery(dir, problem: "the WAL is damaged at byte",
                                           lost: "in the unreadable part of the WAL")
    }

    @Test func aWALCutAtItsLastBytesStillStartsWithAllButTheTornCommit() throws {
        let killed = try Self.acknowledgedThenKilled()
        let dir = killed.dataDir
        let wal = Self.file(dir, "switchboard.db-wal")
        let bytes = try Data(contentsOf: wal)
        try bytes.prefix(bytes.count - 100).write(to: wal)
        #expect(try Self.verify(dir).status == 0, "a torn last commit is what a crash leaves, not damage")
        let hub = try HubProcess(config: Self.walOnly, dataDir: dir)
        let served = try Self.served(hub)
        #expect(served == 99 || served == 100, "served \(served) of 100")
        #expect(hub.log.contains("the last commit in the WAL is torn"), "\(hub.log)")
    }

    @Test func aRowWithBrokenJSONStopsTheStartAndRecoverNamesIt() throws {
        let hub = try HubProcess(config: Self.walOnly)
        let dir = hub.dataDir
        for i in 1...10 {
            _ = try hub.http.postJSON("/api/calls/s\(i % 5)/sync", #"{"id":"e\#(i)","timestamp":\#(i),"data":{"metadata":{"n\#(i)":\#(i)}}}"#)
        }
        #expect(hub.stop() == 0)
        let sqlite = try HubProcess.runToExit(URL(fileURLWithPath: "/usr/bin/sqlite3"),
            arguments: [Self.file(dir).path, "UPDATE entries SET payload = CAST('{\"broken' AS BLOB) WHERE seq = 7"])
        #expect(sqlite.status == 0, "\(sqlite.output)")
        let check = try Self.verify(dir)
        #expect(check.status == 65 && check.output.contains("entry seq 7 of session s2 does not decode"), "\(check.output)")
        let refused = try Self.serve(dir)
        #expect(refused.status == 78, "\(refused.output)")
        #expect(refused.output.contains("session s2"))
        let recovered = try HubProcess(config: Self.walOnly, arguments: ["--recover"], dataDir: dir)
        #expect(recovered.log.contains("lost: session s2: 1 inputs (seq 7): does not decode"), "\(recovered.log)")
        #expect(try Self.served(recovered) == 9)
    }

    @Test func aJournalShorterThanItsMarkerStopsTheStart() throws {
        // Timed checkpoints on: the marker follows the commits.
        let config: [String: Any] = ["store": ["kind": "sqlite", "checkpointIntervalMs": 50]]
        let hub = try HubProcess(config: config)
        let dir = hub.dataDir
        _ = try hub.http.postJSON("/api/calls/old/sync", #"{"id":"a","timestamp":1,"data":{"metadata":{"a":1}}}"#)
        #expect(hub.stop() == 0)
        let old = try Data(contentsOf: Self.file(dir))
        let second = try HubProcess(config: config, dataDir: dir)
        for i in 1...5 { _ = try second.http.postJSON("/api/calls/new/sync", #"{"id":"b\#(i)","timestamp":\#(i),"data":{"metadata":{"b\#(i)":1}}}"#) }
        // Wait for the marker to vouch for all six (a timed pass rewrites it).
        let marker = Self.file(dir, "switchboard.db.marker")
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline, !((try? String(contentsOf: marker, encoding: .utf8)) ?? "").contains(#""lastSeq":6"#) { usleep(20_000) }
        #expect(try String(contentsOf: marker, encoding: .utf8).contains(#""lastSeq":6"#))
        kill(second.process.processIdentifier, SIGKILL)
        second.process.waitUntilExit()
        // An old copy of the database put back, its WAL gone.
        try old.write(to: Self.file(dir))
        try? FileManager.default.removeItem(at: Self.file(dir, "switchboard.db-wal"))
        try? FileManager.default.removeItem(at: Self.file(dir, "switchboard.db-shm"))
        let check = try Self.verify(dir)
        #expect(check.status == 65 && check.output.contains("shorter than its marker"), "\(check.output)")
        #expect(try Self.serve(dir).status == 78)
    }

    @Test func aBackupTakenUnderWriteLoadRestoresEveryInputAcknowledgedBeforeIt() throws {
        let hub = try HubProcess(config: ["store": ["kind": "sqlite"]])
        let dir = hub.dataDir
        let config = dir.appendingPathComponent("config.json").path
        let backup = FileManager.default.temporaryDirectory.appendingPathComponent("sb-backup-\(UUID().uuidString).db")
        defer { try? FileManager.default.removeItem(at: backup) }
        let acknowledged = LockedCounter()
        let stop = LockedCounter()
        let client = hub.http
        let writer = Thread {
            var i = 0
            while stop.value == 0 {
                i += 1
                if let r = try? client.postJSON("/api/calls/load\(i % 8)/sync",
                                                  #"{"id":"w\#(i)","timestamp":\#(i),"data":{"metadata":{"w\#(i)":\#(i)}}}"#),
                   r.status == 200 { acknowledged.set(i) }
            }
            stop.set(2)
        }
        writer.start()
        while acknowledged.value < 50 { usleep(5_000) }
        let before = acknowledged.value
        let run = try HubProcess.runToExit(arguments: ["journal", "backup", "--config", config, "--data-dir", dir.path,
                                                       "--to", backup.path])
        #expect(run.status == 0, "\(run.output)")
        while acknowledged.value < before + 20 { usleep(5_000) }  // writes went on during and after
        stop.set(1)
        while stop.value != 2 { usleep(5_000) }
        let metrics = String(decoding: try hub.anonymous.get("/metrics").body, as: UTF8.self)
        let age = metrics.split(separator: "\n").first { $0.hasPrefix("switchboard_journal_last_backup_age_seconds ") }
        #expect(age.map { Double($0.split(separator: " ")[1]) ?? .infinity } ?? .infinity < 60, "\(age ?? "none")")
        #expect(hub.stop() == 0)

        // Restore into a fresh data directory.
        let target = try HubProcess(config: ["store": ["kind": "sqlite"]])
        #expect(target.stop() == 0)
        let restored = try HubProcess.runToExit(arguments: ["journal", "restore", "--config", config,
                                                            "--data-dir", target.dataDir.path, "--from", backup.path])
        #expect(restored.status == 0, "\(restored.output)")
        let back = try HubProcess(config: ["store": ["kind": "sqlite"]], dataDir: target.dataDir)
        var present = Set<String>()
        for s in 0..<8 {
            let doc = try back.http.get("/api/calls/load\(s)")
            if let metadata = doc.json["metadata"] as? [String: Any] { present.formUnion(metadata.keys) }
        }
        let missing = (1...before).filter { !present.contains("w\($0)") }
        #expect(missing.isEmpty, "acknowledged before the backup began but not restored: \(missing.prefix(10))")
    }

    @Test func metricsShowTheJournalAndATimedCheckpointEmptiesAnIdleWAL() throws {
        let hub = try HubProcess(config: ["store": ["kind": "sqlite", "checkpointIntervalMs": 100]])
        for i in 1...20 { _ = try hub.http.postJSON("/api/calls/m/sync", #"{"id":"m\#(i)","timestamp":\#(i)}"#) }
        func gauge(_ name: String) throws -> Double? {
            let text = String(decoding: try hub.anonymous.get("/metrics").body, as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        #expect(try gauge("switchboard_journal_bytes") ?? 0 > 0)
        #expect(try gauge("switchboard_journal_last_backup_age_seconds") == .infinity, "never backed up")
        // Idle: within a few intervals the WAL is checkpointed and cut to zero.
        let deadline = Date(timeIntervalSinceNow: 10)
        var wal = try gauge("switchboard_journal_wal_bytes")
        while wal != 0, Date() < deadline {
            usleep(50_000)
            wal = try gauge("switchboard_journal_wal_bytes")
        }
        #expect(wal == 0, "an idle WAL is emptied")
        #expect(try gauge("switchboard_journal_last_checkpoint_age_seconds") ?? 99 < 5)
    }
}

/// An integer shared between the test and its writer thread.
final class LockedCounter: @unchecked Sendable {  // `stored` only under `lock`
    private let lock = NSLock()
    private var stored = 0
    var value: Int { lock.withLock { stored } }
    func set(_ v: Int) { lock.withLock { stored = v } }
}
