import Foundation
import HubTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real hub behind a real nginx configured from `Config/nginx.conf`
/// (issue 9): WebSockets and keepalive through the proxy, Twilio signatures
/// on `server.publicUrl`, client addresses through `server.trustedProxies`,
/// drain, `/metrics`, and the shipped file itself (`nginx -t`, TLS block
/// included).
@Suite(.serialized) struct ProxyTests {
    static let publicUrl = "https://calls.example.com"

    /// A hub with Twilio configured and `publicUrl` set as a deployment would.
    static func startHub(_ extra: [String: Any] = [:]) throws -> HubProcess {
        let base: [String: Any] = [
            "server": ["publicUrl": publicUrl],
            "providers": ["twilio": ["authToken": WebhookRouteTests.twilioToken]],
        ]
        return try HubProcess(config: HubProcess.merging(extra, into: base))
    }

    /// Frames until the first `state_change`.
    func nextStateChange(_ ws: WSClient, timeout: TimeInterval = 5) throws -> [String: Any] {
        while true {
            let frame = try ws.nextJSON(timeout: timeout)
            if frame["type"] as? String == "state_change" { return frame }
        }
    }

    /// The hub's log once `ready` holds (it arrives through a pipe, a little
    /// after the frames the test already saw), or as it is after `timeout`.
    func hubLog(_ hub: HubProcess, when ready: (String) -> Bool, timeout: TimeInterval = 3) -> String {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !ready(hub.log), Date() < deadline { usleep(20_000) }
        return hub.log
    }

    func postTwilio(_ client: HTTPClient, _ path: String, form: String, signedOn url: String) throws -> HTTPClient.Response {
        try client.request("POST", path, headers: [
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": WebhookRouteTests.twilioSignature(url: url, form: form),
        ], body: Array(form.utf8))
    }

    // MARK: - WebSockets through the proxy

    @Test func aSubscriptionThroughTheProxySeesReportsMadeThroughTheProxy() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let watcher = try nginx.connect("/ws/calls/px-1")
        #expect(try watcher.nextJSON()["type"] as? String == "snapshot")

        // A WebSocket report through nginx...
        let reporter = try nginx.connect("/ws/calls/px-1")
        _ = try reporter.nextJSON()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try reporter.send(#"{"type":"report","id":"r1","ts":\#(now),"state":{"callState":"ringing"}}"#)
        let ringing = try nextStateChange(watcher)
        #expect(ringing["state"] as? String == "ringing")

        // ...and an HTTP report through nginx (upstream keepalive pool).
        for (i, event) in ["connected", "hold"].enumerated() {
            let sync = try nginx.http.postJSON("/api/calls/px-1/sync", #"{"event":"\#(event)","timestamp":\#(now + 1 + Int64(i))}"#)
            #expect(sync.status == 200, "\(sync.status) \(sync.text)")
        }
        #expect(try nextStateChange(watcher)["state"] as? String == "connected")
        #expect(try nextStateChange(watcher)["state"] as? String == "on_hold")
        #expect(try nginx.http.get("/api/calls/px-1").json["callState"] as? String == "on_hold")
    }

    /// Hub keepalive scaled down (ping every 1 s, drop after 2 s) and the
    /// proxy's WebSocket timeout scaled like the shipped one (75 s over a 25 s
    /// ping → 3 s): an idle, healthy subscriber outlives the proxy timeout.
    @Test func anIdleWebSocketIsNotCutByTheProxyBeforeTheHubsKeepalive() throws {
        let hub = try Self.startHub(["keepalive": ["pingSec": 1, "timeoutSec": 2]])
        let nginx = try NginxProcess(upstreamPort: hub.port, webSocketTimeout: 3)
        let ws = try nginx.connect("/ws/calls/px-idle")
        _ = try ws.nextJSON()
        // Idle for well over nginx's 3 s, answering the hub's pings.
        #expect(throws: TestSocket.Timeout.self, "still open, nothing but pings") { try ws.next(timeout: 5) }
        _ = try nginx.http.postJSON("/api/calls/px-idle/sync", #"{"event":"ringing","timestamp":1000}"#)
        #expect(try nextStateChange(ws)["state"] as? String == "ringing")
    }

    /// The control for the test above: a proxy timeout below the hub's ping
    /// interval cuts idle subscribers, so that test can fail.
    @Test func aProxyTimeoutBelowThePingIntervalCutsIdleWebSockets() throws {
        let hub = try Self.startHub(["keepalive": ["pingSec": 5, "timeoutSec": 10]])
        let nginx = try NginxProcess(upstreamPort: hub.port, webSocketTimeout: 1)
        let ws = try nginx.connect("/ws/calls/px-cut")
        _ = try ws.nextJSON()
        #expect(throws: TestSocket.Closed.self, "nginx closes the idle connection") { try ws.next(timeout: 4) }
    }

    /// With an empty `security.allowedOrigins` the hub accepts a browser
    /// only from its own host: the proxy must forward Host with its port.
    @Test func aSameHostBrowserOriginPassesThroughTheProxyAndAForeignOneDoesNot() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let same = try nginx.connect("/ws/calls/px-origin", headers: ["Origin": "http://127.0.0.1:\(nginx.port)"])
        #expect(try same.nextJSON()["type"] as? String == "snapshot")
        #expect(throws: WSClient.Rejected.self) {
            _ = try nginx.connect("/ws/calls/px-origin", headers: ["Origin": "https://evil.example"])
        }
    }

    /// A browser's token offered as a subprotocol passes nginx, and neither
    /// log (the proxy's access log, the hub's) holds it (issue 30).
    @Test func aSubprotocolTokenPassesThroughTheProxyAndIsLoggedNowhere() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let token = HubProcess.token(role: .client, sub: "px-browser", sid: "px-proto")
        let ws = try nginx.connect("/ws/calls/px-proto", token: .some(nil),
                                   headers: ["Sec-WebSocket-Protocol": "switchboard.v1, bearer.\(token)"])
        #expect(ws.handshake.lowercased().contains("sec-websocket-protocol: switchboard.v1\r\n"))
        #expect(!ws.handshake.contains(token))
        #expect(try ws.nextJSON()["type"] as? String == "snapshot")
        ws.socket.shutdownNow()  // nginx writes the access line when the connection ends
        let deadline = Date(timeIntervalSinceNow: 5)
        while !nginx.accessLog.contains("/ws/calls/px-proto"), Date() < deadline { usleep(20_000) }
        #expect(nginx.accessLog.contains("/ws/calls/px-proto"))
        #expect(!nginx.accessLog.contains(token))
        #expect(!hub.log.contains(token))
    }

    // MARK: - Twilio signatures on the public URL

    @Test func twilioSignedOnThePublicUrlIsAcceptedThroughTheProxyAndOnInternalUrlsRefused() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let form = try WebhookRouteTests.fixture("twilio-status-ringing.form")
        let path = "/api/twilio/status?session=px-tw"

        // The hub sees Host 127.0.0.1:<nginx port>, a different port of its own,
        // and no TLS: none of it matters, the signature is on publicUrl.
        let internalProxy = try postTwilio(nginx.anonymous, path, form: form, signedOn: "http://127.0.0.1:\(nginx.port)" + path)
        #expect(internalProxy.status == 401)
        let internalHub = try postTwilio(nginx.anonymous, path, form: form, signedOn: "http://127.0.0.1:\(hub.port)" + path)
        #expect(internalHub.status == 401)
        #expect(try nginx.http.get("/api/calls/px-tw").status == 404, "nothing applied")

        let signed = try postTwilio(nginx.anonymous, path, form: form, signedOn: Self.publicUrl + path)
        #expect(signed.status == 204, "\(signed.status) \(signed.text)")
        #expect(try nginx.http.get("/api/calls/px-tw").json["callState"] as? String == "ringing")
    }

    // MARK: - Client addresses

    /// Two clients on different addresses (127.0.0.2 and 127.0.0.3: all of
    /// 127/8 is loopback on Linux) reach the hub through nginx, which
    /// appends each one's address to X-Forwarded-For. The hub believes it
    /// because nginx (127.0.0.1) is trusted: separate budgets, their own
    /// addresses in the log, and a forged X-Forwarded-For buys nothing.
    @Test func forwardedClientsGetTheirOwnConnectionBudgetWhenTheProxyIsTrusted() throws {
        let hub = try Self.startHub(["server": ["trustedProxies": ["127.0.0.1/32"]],
                                     "limits": ["maxConnectionsPerIp": 2]])
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let held = try [nginx.connect("/ws/calls/px-ip", source: "127.0.0.2"),
                        nginx.connect("/ws/calls/px-ip", source: "127.0.0.2")]
        // nginx sends "203.0.113.7, 127.0.0.2": the right-most untrusted entry wins.
        let forged = #expect(throws: WSClient.Rejected.self) {
            _ = try nginx.connect("/ws/calls/px-ip", headers: ["X-Forwarded-For": "203.0.113.7"], source: "127.0.0.2")
        }
        #expect(forged?.status == 429, "a forged X-Forwarded-For does not escape the cap")
        let other = try nginx.connect("/ws/calls/px-ip", source: "127.0.0.3")
        #expect(try other.nextJSON()["type"] as? String == "snapshot", "another client, another budget")
        #expect(held.count == 2)

        _ = try nginx.anonymous.get("/no-such-page")
        let log = hubLog(hub) { $0.contains("peer=127.0.0.3") && $0.contains("rejected request") }
        #expect(log.contains("ws open") && log.contains("peer=127.0.0.2"))
        #expect(log.contains("peer=127.0.0.3"))
        #expect(log.contains("rejected upgrade") && !log.contains("peer=203.0.113.7"))
        #expect(log.contains("rejected request"), "the 404 is logged (with the test's own address)")
        #expect(log.components(separatedBy: "\n").filter { $0.contains("ws open") }.allSatisfy { !$0.contains("peer=127.0.0.1") },
                "no WebSocket is attributed to the proxy")
    }

    /// The same through a chain: 127.0.0.1 stands for a trusted front (a
    /// load balancer) that already put the client in X-Forwarded-For; nginx
    /// appends 127.0.0.1, the hub skips both trusted hops.
    @Test func forwardedAddressesFromATrustedFrontAreTheClients() throws {
        let hub = try Self.startHub(["server": ["trustedProxies": ["127.0.0.1/32"]],
                                     "limits": ["maxConnectionsPerIp": 2]])
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let a = ["X-Forwarded-For": "203.0.113.7"], b = ["X-Forwarded-For": "198.51.100.9"]
        let held = try [nginx.connect("/ws/calls/px-ip", headers: a), nginx.connect("/ws/calls/px-ip", headers: a)]
        let refused = #expect(throws: WSClient.Rejected.self) { _ = try nginx.connect("/ws/calls/px-ip", headers: a) }
        #expect(refused?.status == 429)
        let other = try nginx.connect("/ws/calls/px-ip", headers: b)
        #expect(try other.nextJSON()["type"] as? String == "snapshot")
        #expect(held.count == 2)
        _ = try nginx.anonymous.get("/no-such-page", headers: a)
        let log = hubLog(hub) { $0.contains("peer=198.51.100.9") && $0.contains("rejected request") }
        #expect(log.contains("peer=203.0.113.7") && log.contains("peer=198.51.100.9"))
        #expect(log.components(separatedBy: "\n").contains { $0.contains("rejected request") && $0.contains("peer=203.0.113.7") })
        #expect(!log.contains("peer=127.0.0.1"), "no line names the proxy as the client")
    }

    @Test func withoutTrustedProxiesEveryoneBehindTheProxyIsOneAddress() throws {
        let hub = try Self.startHub(["limits": ["maxConnectionsPerIp": 2]])
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let held = try [nginx.connect("/ws/calls/px-ip", headers: ["X-Forwarded-For": "203.0.113.7"]),
                        nginx.connect("/ws/calls/px-ip", headers: ["X-Forwarded-For": "198.51.100.9"])]
        let refused = #expect(throws: WSClient.Rejected.self) {
            _ = try nginx.connect("/ws/calls/px-ip", headers: ["X-Forwarded-For": "192.0.2.44"])
        }
        #expect(refused?.status == 429, "three clients, one shared budget of 2")
        #expect(held.count == 2)
        let log = hubLog(hub) { $0.contains("rejected upgrade") }
        #expect(log.contains("peer=127.0.0.1"))
        #expect(!log.contains("peer=203.0.113.7"), "forwarded addresses are not believed")
    }

    // MARK: - Limits at the proxy

    /// `client_max_body_size` equals `limits.maxBodyBytes`: one byte over is
    /// refused by nginx from the header alone; exactly the limit reaches
    /// the hub (which then judges the signature).
    @Test func theProxysBodyLimitIsTheHubsBodyLimit() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let limit = 1_048_576
        let socket = try TestSocket(port: nginx.port)
        try socket.write("POST /api/twilio/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                         + "Content-Length: \(limit + 1)\r\n\r\n")
        let head = String(decoding: try socket.read(until: Array("\r\n\r\n".utf8), deadline: Date(timeIntervalSinceNow: 5)), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 413"), "\(head)")

        let body = Array("CallSid=CA1&Pad=".utf8) + Array(repeating: UInt8(ascii: "x"), count: limit - 16)
        #expect(body.count == limit)
        let atLimit = try nginx.anonymous.request("POST", "/api/twilio/status", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                  body: body, timeout: 10)
        #expect(atLimit.status == 401, "reached the hub, refused for its missing signature: \(atLimit.status)")
    }

    // MARK: - Drain

    @Test func sigtermDrainsThroughTheProxyWith1001AndExitsZero() throws {
        let hub = try Self.startHub()
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let ws = try nginx.connect("/ws/calls/px-drain")
        _ = try ws.nextJSON()
        #expect(try nginx.anonymous.get("/readyz").status == 200)
        kill(hub.process.processIdentifier, SIGTERM)
        #expect(try ws.closeCode(timeout: 10) == 1001)
        // Answer the close as a client would; the hub then has nothing left to drain.
        try? ws.sendFrame([0x03, 0xE9], opcode: 0x8)
        #expect(hub.stop(signal: 0, timeout: 15) == 0, "exit status 0")
        #expect(try nginx.anonymous.get("/healthz").status == 502, "the proxy now has no upstream")
    }

    // MARK: - Metrics

    @Test func metricsScrapedThroughTheProxy() throws {
        let hub = try Self.startHub(["store": ["kind": "sqlite"]])
        let nginx = try NginxProcess(upstreamPort: hub.port)
        let ws = try nginx.connect("/ws/calls/px-m")
        _ = try ws.nextJSON()
        let form = try WebhookRouteTests.fixture("twilio-status-ringing.form")
        let path = "/api/twilio/status?session=px-m"
        #expect(try postTwilio(nginx.anonymous, path, form: form, signedOn: Self.publicUrl + path).status == 204)
        #expect(try postTwilio(nginx.anonymous, path, form: form, signedOn: "http://127.0.0.1" + path).status == 401)
        _ = try nextStateChange(ws)

        let response = try nginx.anonymous.get("/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
        let text = response.text
        #expect(text.contains("# TYPE switchboard_connections gauge"))
        #expect(text.contains(#"switchboard_connections{endpoint="calls"} 1"#))
        #expect(text.contains(#"switchboard_webhook_requests_total{provider="twilio",outcome="ok"} 1"#))
        #expect(text.contains(#"switchboard_webhook_requests_total{provider="twilio",outcome="unauthorized"} 1"#))
        #expect(text.contains(#"switchboard_signature_failures_total{provider="twilio"} 1"#))
        #expect(text.contains(#"switchboard_sessions{callState="ringing"} 1"#))
        // With a SQLite journal every accepted webhook is a commit, so the
        // commit latency histogram should have observations by now.
        #expect(text.contains("# TYPE switchboard_journal_commit_seconds histogram"))
        #expect(text.contains("switchboard_journal_commit_seconds_count"))
    }

    // MARK: - The shipped file

    /// `nginx -t` on Config/nginx.conf with its commented TLS server block
    /// switched on and a throw-away certificate.
    @Test func theShippedConfigAndItsTLSBlockPassNginxT() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-nginx-t-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=calls.example.com",
                             "-keyout", key, "-out", cert]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a test certificate")

        let shipped = try NginxProcess.shippedConfig()
        var plain = try NginxProcess.render(shipped, upstreamPort: 8080, port: freePort(), dir: dir)
        let checked = try NginxProcess.check(plain, in: dir)
        #expect(checked.ok, "\(checked.output)")

        // Switch the TLS server on: drop the "# " of every line between the markers.
        let begin = "# ---- begin TLS server ----", end = "# ---- end TLS server ----"
        let lines = plain.components(separatedBy: "\n")
        let from = try #require(lines.firstIndex { $0.contains(begin) }), to = try #require(lines.firstIndex { $0.contains(end) })
        var enabled = lines
        for i in (from + 1)..<to {
            let line = lines[i]
            let indent = line.prefix { $0 == " " }
            let rest = line.dropFirst(indent.count)
            guard rest.hasPrefix("#"), !rest.hasPrefix("##") else { continue }
            enabled[i] = indent + String(rest.dropFirst(rest.hasPrefix("# ") ? 2 : 1))
        }
        plain = enabled.joined(separator: "\n")
        let tlsPort = try freePort()
        try NginxProcess.substitute(&plain, "listen 443 ssl;", "listen 127.0.0.1:\(tlsPort) ssl;")
        try NginxProcess.substitute(&plain, "listen [::]:443 ssl;", "")
        try NginxProcess.substitute(&plain, "/etc/ssl/certs/calls.example.com.fullchain.pem", cert)
        try NginxProcess.substitute(&plain, "/etc/ssl/private/calls.example.com.key.pem", key)
        #expect(plain.contains("\n        listen 127.0.0.1:\(tlsPort) ssl;\n"), "the TLS server block is live")
        let tls = try NginxProcess.check(plain, in: dir)
        #expect(tls.ok, "\(tls.output)")
    }
}
