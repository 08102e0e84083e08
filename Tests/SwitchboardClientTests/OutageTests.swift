import Foundation
import HubTestSupport
import SwitchboardClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Both client libraries, with their default options, against the real hub
/// binary through the outages a live call meets (issue 30): a SIGTERM
/// restart, kill -9, a 10 s outage and a frozen hub (SIGSTOP). The browser
/// client runs in real headless Chromium; the Swift client over
/// libwebsockets. One test, so the slow outages are paid for once.
@Suite(.serialized) struct OutageTests {
    static let sessionId = "outage-1"

    @Test func bothClientsComeBackWithinTwoSecondsOfTheHubAndNoticeAFrozenHub() async throws {
        let port = try freePort()
        let page = try Self.testPage()
        defer { try? FileManager.default.removeItem(at: page) }
        let config: [String: Any] = ["server": ["host": "127.0.0.1", "port": port], "store": ["kind": "sqlite"],
                                     "publicDir": page.path]
        let first = try HubProcess(config: config)  // owns the data directory: kept to the end
        var hubs = [first]
        var hub = first
        try Self.sync(hub, "ringing")
        let token = HubProcess.token(role: .client, sub: "outage", sid: Self.sessionId)

        // The browser: a page of the hub's origin that loads switchboard.js; the token goes in by script.
        let browser = try Chromium(url: "http://127.0.0.1:\(port)/outage.html")
        try browser.call("Network.enable")
        #expect(try await Self.poll(10) { try browser.evaluate("typeof Switchboard === 'object'") as? Bool == true })
        _ = try browser.evaluate("""
            window.__log = [];
            window.__sb = Switchboard.connect({ sessionId: '\(Self.sessionId)', token: '\(token)' });
            window.__sb.on('status', (s, info) => window.__log.push({ s, at: Date.now(), cause: info.cause || null,
              code: info.code || null, text: info.text }));
            true
            """)

        // The Swift client, every status kept with the time it came.
        let transport = RecordingTransport(LWSWebSocketTransport())
        let call = SwitchboardCall(baseURL: "http://127.0.0.1:\(port)/", sessionId: Self.sessionId, token: token,
                                   transport: transport)
        let swiftLog = StatusLog()
        let statuses = call.statuses
        let collector = Task { for await status in statuses { swiftLog.append(status) } }
        await call.start()

        #expect(try await Self.poll(10) { try Self.browserState(browser) == "ringing" }, "the page follows the call")
        #expect(try await Self.poll(10) { await call.document?["callState"] == "ringing" }, "the app follows the call")

        // Restarts: SIGTERM (the hub drains with 1001), kill -9, and a 10 s outage.
        for (name, signal, downSeconds) in [("SIGTERM restart", SIGTERM, 0.0), ("kill -9", SIGKILL, 0.0),
                                            ("10 s outage", SIGKILL, 10.0)] {
            let droppedAt = nowMs()
            #expect(hub.stop(signal: signal) != nil, "\(name): the hub stopped")
            if downSeconds > 0 { try await Task.sleep(for: .seconds(downSeconds)) }
            hub = try HubProcess(config: config, dataDir: first.dataDir)
            hubs.append(hub)
            let readyAt = nowMs()
            let pageOpen = try await Self.firstBrowserOpen(browser, after: droppedAt, within: 8)
            let appOpen = try await Self.firstOpen(swiftLog, after: droppedAt, within: 8)
            #expect(pageOpen.map { $0 - readyAt <= 2000 } == true,
                    "\(name): the page was back \(pageOpen.map { "\($0 - readyAt)" } ?? "never") ms after the hub was ready")
            #expect(appOpen.map { $0 - readyAt <= 2000 } == true,
                    "\(name): the app was back \(appOpen.map { "\($0 - readyAt)" } ?? "never") ms after the hub was ready")
            print("outage: \(name): page back \(pageOpen.map { "\($0 - readyAt)" } ?? "never") ms, app back "
                  + "\(appOpen.map { "\($0 - readyAt)" } ?? "never") ms after the hub was ready")
            if signal == SIGTERM {
                #expect(try Self.browserCauses(browser, after: droppedAt).first == "draining", "\(name): 1001 seen as a drain")
                #expect(swiftLog.causes(after: droppedAt).first == .draining)
            }
        }

        // A frozen hub: the TCP connection stays up, nothing answers.
        let frozenAt = nowMs()
        kill(hub.process.processIdentifier, SIGSTOP)
        let pageNoticed = try await Self.poll(15) { try Self.browserCauses(browser, after: frozenAt).contains("silent") }
        let appNoticed = try await Self.poll(15) { swiftLog.causes(after: frozenAt).contains(.silent) }
        let noticedIn = nowMs() - frozenAt
        #expect(pageNoticed, "the page noticed the frozen hub within 15 s")
        #expect(appNoticed, "the app noticed the frozen hub within 15 s")
        kill(hub.process.processIdentifier, SIGCONT)
        let thawedAt = nowMs()
        let pageBack = try await Self.firstBrowserOpen(browser, after: thawedAt - 1, within: 8)
        let appBack = try await Self.firstOpen(swiftLog, after: thawedAt - 1, within: 8)
        #expect(pageBack != nil && appBack != nil, "both are back once the hub runs again")

        // The call is still followed exactly: a change after all that reaches both.
        try Self.sync(hub, "connected")
        #expect(try await Self.poll(5) { try Self.browserState(browser) == "connected" })
        #expect(try await Self.poll(5) { await call.document?["callState"] == "connected" })
        let hubVersion = try hub.http.get("/api/calls/\(Self.sessionId)").json["version"] as? Int
        #expect(try browser.evaluate("window.__sb.version") as? Int == hubVersion)
        #expect(await call.version.map(Int.init) == hubVersion)

        // No token in any URL the page or the app opened; the page offered it as a subprotocol.
        _ = try browser.evaluate("true")  // reads the events that came meanwhile
        let urls = browser.events.compactMap { event -> String? in
            let params = event["params"] as? [String: Any]
            switch event["method"] as? String {
            case "Network.webSocketCreated": return params?["url"] as? String
            case "Network.requestWillBeSent": return (params?["request"] as? [String: Any])?["url"] as? String
            default: return nil
            }
        }
        let sockets = browser.events.filter { $0["method"] as? String == "Network.webSocketCreated" }.count
        #expect(sockets >= 5, "the page opened \(sockets) sockets")
        #expect(!urls.isEmpty && urls.allSatisfy { !$0.contains(token) && !$0.contains("token=") }, "\(urls)")
        let handshakes = browser.events.filter { $0["method"] as? String == "Network.webSocketWillSendHandshakeRequest" }
        let offered = handshakes.compactMap { (($0["params"] as? [String: Any])?["request"] as? [String: Any])?["headers"] as? [String: Any] }
            .compactMap { headers in headers.first { $0.key.lowercased() == "sec-websocket-protocol" }?.value as? String }
        #expect(!offered.isEmpty && offered.allSatisfy { $0 == "switchboard.v1, bearer.\(token)" }, "\(offered.prefix(2))")
        #expect(transport.urls.allSatisfy { !$0.contains(token) })
        for h in hubs { #expect(!h.log.contains(token), "a hub logged the token") }

        let pageLog = try browser.evaluate("JSON.stringify(window.__log.map(e => e.text))") as? String ?? ""
        print("outage: frozen hub noticed in \(noticedIn) ms; page statuses: \(pageLog.prefix(1500))")
        await call.close()
        collector.cancel()
        withExtendedLifetime(hubs) {}
    }

    // MARK: - Helpers

    /// A public directory with switchboard.js and a page that loads it (and nothing else).
    static func testPage() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-outage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: HubProcess.repoRoot.appendingPathComponent("public/switchboard.js"),
                                         to: dir.appendingPathComponent("switchboard.js"))
        try #"<!doctype html><title>outage</title><script src="switchboard.js"></script>"#
            .write(to: dir.appendingPathComponent("outage.html"), atomically: true, encoding: .utf8)
        return dir
    }

    static func sync(_ hub: HubProcess, _ event: String) throws {
        let response = try hub.http.postJSON("/api/calls/\(sessionId)/sync",
                                             #"{"event":"\#(event)","data":{},"timestamp":\#(nowMs())}"#)
        #expect(response.status == 200, "sync \(event): \(response.status) \(response.text)")
    }

    static func browserState(_ browser: Chromium) throws -> String? {
        try browser.evaluate("window.__sb && window.__sb.state ? window.__sb.state.callState : null") as? String
    }

    static func browserCauses(_ browser: Chromium, after ms: Int64) throws -> [String] {
        try browser.evaluate("window.__log.filter(e => e.at > \(ms) && e.cause).map(e => e.cause)") as? [String] ?? []
    }

    /// When the page's link first opened after `ms`, if it did within `timeout` seconds.
    static func firstBrowserOpen(_ browser: Chromium, after ms: Int64, within timeout: Double) async throws -> Int64? {
        var at: Int64?
        _ = try await poll(timeout) {
            let found = try browser.evaluate("(window.__log.find(e => e.s === 'open' && e.at > \(ms)) || {}).at") as? Double
            at = found.map { Int64($0) }
            return at != nil
        }
        return at
    }

    static func firstOpen(_ log: StatusLog, after ms: Int64, within timeout: Double) async throws -> Int64? {
        _ = try await poll(timeout) { log.openAt(after: ms) != nil }
        return log.openAt(after: ms)
    }

    /// Polls `condition` every 50 ms until it holds or `timeout` seconds pass.
    static func poll(_ timeout: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

/// Statuses with the time each arrived.
final class StatusLog: @unchecked Sendable {  // `entries` only under `lock`
    private let lock = NSLock()
    private var entries: [(at: Int64, status: ConnectionStatus)] = []

    func append(_ status: ConnectionStatus) { lock.withLock { entries.append((nowMs(), status)) } }

    func openAt(after ms: Int64) -> Int64? {
        lock.withLock { entries.first { $0.at > ms && $0.status == .open }?.at }
    }

    func causes(after ms: Int64) -> [DisconnectCause] {
        lock.withLock {
            entries.filter { $0.at > ms }.compactMap {
                if case .reconnecting(_, _, _, let cause) = $0.status { return cause } else { return nil }
            }
        }
    }
}
