import Foundation
import HubTestSupport
import Testing

/// The dashboard page in real headless Chromium against the real hub with
/// the simulator running (issue 8). Leaves a screenshot in test-artifacts/.
@Suite struct DashboardBrowserTests {
    @Test func theDashboardFillsDrawsChartsAndShowsStateChangesWithinASecond() throws {
        let hub = try WebhookRouteTests.startHub()
        let simulator = Process()
        simulator.executableURL = HubProcess.binary
        simulator.arguments = ["simulate", "--url", "http://127.0.0.1:\(hub.port)",
                               "--config", hub.dataDir.appendingPathComponent("config.json").path,
                               "--calls", "4", "--rate", "4", "--talk-seconds", "40", "--seed", "7"]
        simulator.standardOutput = FileHandle.nullDevice
        try simulator.run()
        defer { simulator.terminate() }

        let token = HubProcess.token(role: .dashboard, sub: "e2e")
        let browser = try Chromium(url: "http://127.0.0.1:\(hub.port)/#token=\(token)")

        // The table fills with the simulated calls.
        let filled = try browser.waitUntil("document.querySelectorAll('#calls-body tr[data-id]').length >= 3", timeout: 20)
        #expect(filled != nil, "the calls table filled")

        // A state change reaches the page within a second.
        _ = try hub.http.postJSON("/api/calls/e2e-live/sync", #"{"event":"ringing"}"#)
        #expect(try browser.waitUntil("!!document.querySelector('tr[data-id=\"e2e-live\"]')", timeout: 5) != nil)
        _ = try hub.http.postJSON("/api/calls/e2e-live/sync", #"{"event":"connected"}"#)
        let shown = try browser.waitUntil(
            "(document.querySelector('tr[data-id=\"e2e-live\"]')?.textContent || '').includes('connected')", timeout: 5)
        #expect(shown.map { $0 < 1.0 } == true, "state change shown after \(String(describing: shown)) s")

        // The detail view of a call that is talking draws its MOS chart from live samples.
        let talking = "document.querySelector('#calls-body tr[data-id^=\"sim-\"] .state-connected')"
        #expect(try browser.waitUntil("!!\(talking)", timeout: 15) != nil, "a simulated call is connected")
        _ = try browser.evaluate("\(talking).closest('tr').click()")
        let drawn = try browser.waitUntil("""
            (() => { const v = document.getElementById('v-mos'); const c = document.getElementById('ch-mos');
              if (!v || !c || v.textContent === '—' || !c.width) return false;
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; })()
            """, timeout: 20)
        #expect(drawn != nil, "the MOS chart drew quality samples")
        try browser.screenshot(to: HubProcess.repoRoot.appendingPathComponent("test-artifacts/dashboard.png"))
        let errors = try browser.pageErrors()
        #expect(errors != nil, "the error collector is installed")
        #expect(errors?.isEmpty == true, "page errors: \(errors ?? [])")
    }

    /// Issue 27 item 2, in a real browser: with `security.allowedOrigins`
    /// set for a foreign app, the hub's own dashboard still goes live, and a
    /// page of an origin the hub refuses stops retrying and says why (the
    /// browser hides the 403 of a refused handshake; switchboard.js asks the
    /// hub with a plain POST). The page is the dashboard at `localhost`; the
    /// refused client inside it targets `127.0.0.1`, another origin. Its CSP
    /// (connect-src 'self') is bypassed so the probe can be sent: a foreign
    /// page's own policy would list the hub, as it must for the socket.
    @Test func allowedOriginsKeepTheOwnDashboardLiveAndARefusedPageStopsSayingWhy() throws {
        let hub = try HubProcess(config: ["security": ["allowedOrigins": ["https://app.example.com"]],
                                          "retention": ["staleSec": 2]])
        let token = HubProcess.token(role: .dashboard, sub: "origins")
        let browser = try Chromium(url: "about:blank")
        try browser.call("Page.setBypassCSP", ["enabled": true])
        try browser.call("Page.navigate", ["url": "http://localhost:\(hub.port)/#token=\(token)"])
        let live = try browser.waitUntil("document.getElementById('conn')?.getAttribute('data-status') === 'open'", timeout: 10)
        let connText = try browser.evaluate("document.getElementById('conn-text')?.textContent") as? String
        #expect(live != nil, "the hub's own dashboard went live; status: \(connText ?? "-")")

        // Issue 27 item 7: the detail pane's "(just now)" beside lastSync
        // moves on by itself while the call stays silent.
        _ = try hub.http.postJSON("/api/calls/tick-1/sync", #"{"event":"ringing"}"#)
        _ = try browser.evaluate("location.hash = '#token=\(token)&call=tick-1'; true")
        let cell = "(document.querySelector('#d-fields dd[data-time-field=\"lastSync\"]')?.textContent || '')"
        #expect(try browser.waitUntil("\(cell).includes('just now')", timeout: 10) != nil, "lastSync shown")
        let moved = try browser.waitUntil("/\\(\\d+s ago\\)/.test(\(cell))", timeout: 8)
        let shownText = try browser.evaluate(cell) as? String
        #expect(moved != nil, "the relative time ticked: \(shownText ?? "-")")
        // Issue 27 item 3: the silent call's row goes stale on the page's own
        // clock (retention.staleSec 2 here), and the Stale filter keeps it.
        let staleRow = "document.querySelector('tr[data-id=\"tick-1\"]')"
        #expect(try browser.waitUntil("!!\(staleRow)?.classList.contains('stale')", timeout: 8) != nil, "the row is marked stale")
        _ = try browser.evaluate("const s = document.getElementById('filter-state'); s.value = 'stale'; s.dispatchEvent(new Event('change')); true")
        #expect(try browser.waitUntil("document.querySelectorAll('#calls-body tr[data-id]').length === 1 && !!\(staleRow)", timeout: 5) != nil,
                "the Stale filter shows the silent call")

        _ = try browser.evaluate("""
            window.__statuses = [];
            window.__foreign = Switchboard.dashboard({ url: 'ws://127.0.0.1:\(hub.port)/', token: '\(token)', heartbeatMs: 0 });
            window.__foreign.on('status', (s, info) => window.__statuses.push({ s, text: info.text }));
            true
            """)
        let stopped = try browser.waitUntil("window.__foreign.status === 'failed'", timeout: 10)
        let statuses = try browser.evaluate("JSON.stringify(window.__statuses)") as? String
        #expect(stopped != nil, "the refused page stopped: \(statuses ?? "-")")
        let text = try browser.evaluate("window.__foreign.describeStatus()") as? String ?? ""
        #expect(text.contains("origin http://localhost:\(hub.port) is not allowed"), "status line: \(text)")
        #expect(text.contains("403"), "status line: \(text)")
        // Stopped means no timer is left: the status stays, no new attempt starts.
        #expect(try browser.evaluate("Object.keys(window.__foreign._timers).length") as? Int == 0)
        #expect(hub.waitForLog("origin=http://localhost:\(hub.port)", timeout: 5), "the hub's log names the refused origin")
        let errors = try browser.pageErrors()
        #expect(errors?.isEmpty == true, "page errors: \(errors ?? [])")
    }
}
