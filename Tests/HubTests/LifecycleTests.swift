import Foundation
import HubTestSupport
import Testing

/// Start-up, health, static files and graceful shutdown (issue 2 §2, §6-§8).
@Suite struct LifecycleTests {
    @Test func healthAndReadinessAnswerJSON() throws {
        let hub = try HubProcess()
        let health = try hub.http.get("/healthz")
        #expect(health.status == 200)
        #expect(health.headers["content-type"] == "application/json")
        #expect(try hub.http.get("/readyz").status == 200)
    }

    @Test func sigtermSendsA1001CloseFrameFinishesInFlightHTTPAndExitsZero() throws {
        let hub = try HubProcess(config: ["shutdown": ["drainSec": 5]])
        let ws = try hub.connect("/ws/calls/drain")
        _ = try ws.nextJSON()
        // An upload in flight: headers and half the body sent.
        let upload = try TestSocket(port: hub.port)
        let body = #"{"event":"ringing","timestamp":1000}"#
        let token = HubProcess.token(role: .client, sid: "drain")
        try upload.write("POST /api/calls/drain/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n")
        try upload.write(String(body.prefix(10)))
        // The hub holds the upload (one HTTP connection besides /metrics' own).
        #expect(try HubProcess.waitUntil(timeout: 5) { try hub.metric("switchboard_http_connections") >= 2 })

        kill(hub.process.processIdentifier, SIGTERM)
        #expect(try ws.closeCode() == 1001)
        // Draining: not ready, but still answering.
        let ready = try hub.http.get("/readyz")
        #expect(ready.status == 503)
        #expect(ready.headers["retry-after"] != nil)
        #expect(hub.process.isRunning, "exits only once in-flight HTTP is done")

        try upload.write(String(body.dropFirst(10)))
        let response = try HTTPClient.parse(upload.readToEnd(deadline: Date(timeIntervalSinceNow: 5)))
        #expect(response.status == 503, "writes during drain are refused, not lost silently")
        let deadline = Date(timeIntervalSinceNow: 8)
        while hub.process.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!hub.process.isRunning)
        #expect(hub.process.terminationStatus == 0)
    }

    @Test func drainGivesUpAfterDrainSecAndStillExitsZero() throws {
        let hub = try HubProcess(config: ["shutdown": ["drainSec": 1]])
        let stuck = try TestSocket(port: hub.port)
        try stuck.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        #expect(try HubProcess.waitUntil(timeout: 5) { try hub.metric("switchboard_http_connections") >= 2 })
        let started = Date()
        #expect(hub.stop() == 0)
        let took = Date().timeIntervalSince(started)
        // It waited for the stuck upload (drain honoured) and then gave up.
        #expect(took >= 0.9, "exited after \(took) s, before drainSec = 1 ran out")
        #expect(took < 5)
    }

    @Test func staticFilesAreServedWithTheirContentType() throws {
        let hub = try HubProcess()
        let index = try hub.http.get("/")
        #expect(index.status == 200)
        #expect(index.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(index.text.contains("Switchboard"))
        #expect(try hub.http.get("/index.html").status == 200)
        #expect(try hub.http.get("/no-such-file.js").status == 404)
    }

    @Test(arguments: [
        "/../Package.swift", "/%2e%2e/Package.swift", "/%2E%2E/%2E%2E/etc/passwd", "/..%2fPackage.swift",
        "/%252e%252e/Package.swift", "/public/../../Package.swift", "/.git/config", "/..\\Package.swift",
        "/%00/etc/passwd",
    ])
    func pathTraversalIsRefused(path: String) throws {
        let hub = try HubProcess()
        let response = try hub.http.get(path)
        #expect(response.status >= 400, "\(path) → \(response.status)")
        #expect(!response.text.contains("PackageDescription"))
        #expect(!response.text.contains("root:"))
    }

    @Test func anInvalidConfigValueStopsTheStartNamingTheKey() throws {
        let env = try HubProcess.runToExit(arguments: ["serve", "--port", "0"],
                                           environment: ["SWITCHBOARD_LIMITS_MAXMESSAGEBYTES": "lots"])
        #expect(env.status != 0)
        #expect(env.output.contains("limits.maxMessageBytes"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-bad-\(UUID().uuidString).json")
        try Data(#"{"keepalive":{"pingSec":"often"}}"#.utf8).write(to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try HubProcess.runToExit(arguments: ["serve", "--config", dir.path])
        #expect(file.status != 0)
        #expect(file.output.contains("keepalive.pingSec"))

        try Data(#"{"server":{"prot":8080}}"#.utf8).write(to: dir)
        let unknown = try HubProcess.runToExit(arguments: ["serve", "--config", dir.path])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("server.prot"))
    }

    @Test func environmentOverridesTheFileAndFlagsOverrideBoth() throws {
        // file says 1024; env raises to 4096; an 1800-byte message must pass.
        let hub = try HubProcess(config: ["limits": ["maxMessageBytes": 1024]],
                                 environment: ["SWITCHBOARD_LIMITS_MAX_MESSAGE_BYTES": "4096"])
        let ws = try hub.connect("/ws/calls/layers")
        _ = try ws.nextJSON()
        try ws.send(#"{"type":"ping","id":"\#(String(repeating: "y", count: 1800))"}"#)
        #expect(try ws.nextJSON()["type"] as? String == "pong")

        // file, env and flag each name a different port: the flag's (0, an
        // ephemeral one) is the one the hub listens on.
        let filePort = HubProcess.freePort(), envPort = HubProcess.freePort()
        let flagged = try HubProcess(config: ["server": ["port": filePort]],
                                     environment: ["SWITCHBOARD_SERVER_PORT": "\(envPort)"], arguments: ["--port", "0"])
        #expect(flagged.port != filePort && flagged.port != envPort,
                "listens on \(flagged.port); file \(filePort), env \(envPort)")
        #expect(try flagged.http.get("/healthz").status == 200)
        // and without the flag the environment's port wins over the file's.
        let enved = try HubProcess(config: ["server": ["port": filePort]],
                                   environment: ["SWITCHBOARD_SERVER_PORT": "\(envPort)"])
        #expect(enved.port == envPort)
    }

    @Test func aSilentPeerIsDroppedByKeepalive() throws {
        let hub = try HubProcess(config: ["keepalive": ["pingSec": 1, "timeoutSec": 2]])
        let silent = try hub.connect("/ws/calls/keepalive")
        silent.answerPings = false
        let lively = try hub.connect("/ws/calls/keepalive")
        _ = try silent.nextJSON()
        _ = try lively.nextJSON()
        // The silent one neither pongs nor sends: the hub hangs up. The lively
        // one keeps reading (and so answering pings) the whole time.
        var silentDropped = false
        let deadline = Date(timeIntervalSinceNow: 8)
        while !silentDropped, Date() < deadline {
            do { _ = try lively.next(timeout: 0.2) } catch is TestSocket.Timeout {}
            do { _ = try silent.next(timeout: 0.2) } catch is TestSocket.Timeout {} catch { silentDropped = true }
        }
        #expect(silentDropped)
        // The lively one answered every ping and is still served.
        try lively.send(#"{"type":"ping","id":"still-here"}"#)
        #expect(try lively.nextJSON()["id"] as? String == "still-here")
    }
}
