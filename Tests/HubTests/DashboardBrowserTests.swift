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
}
