import Foundation
import HubTestSupport
import Testing

/// The History view and the per-call chart (PROTOCOL.md §12, issue 25) in
/// real headless Chromium against a real hub.
@Suite struct HistoryBrowserTests {
    static let pointsJS = "Number(document.getElementById('ch-mos').getAttribute('data-points'))"

    @Test func anEndedCallOpenedFromHistoryChartsEveryArchivedSample() throws {
        let hub = try HubProcess(config: ["retention": ["endedSec": 1]])
        let start = Int(Date().timeIntervalSince1970 * 1000) - 120_000
        // 40 samples with jitter rising 0-39 ms: past 30 ms high-jitter is raised, a mark on the time axis.
        try HistoryTests.call(hub, "archived-call", start: start, samples: 40)
        #expect(try HistoryTests.waitGone(hub, "archived-call"), "the call left memory")

        let token = HubProcess.token(role: .dashboard, sub: "e2e")
        let browser = try Chromium(url: "http://127.0.0.1:\(hub.port)/#token=\(token)")
        // The deferred scripts (which install the tab's listener) have run once the page is complete.
        _ = try browser.waitUntil("document.readyState === 'complete'", timeout: 10)
        _ = try browser.evaluate("document.getElementById('tab-history').click()")
        let listed = try browser.waitUntil("!!document.querySelector('#history-body tr[data-id=\"archived-call\"]')", timeout: 10)
        let note = try browser.evaluate("document.getElementById('h-note').textContent")
        #expect(listed != nil, "the History view lists the archived call (note: \(String(describing: note)))")
        #expect(try browser.waitUntil("document.getElementById('fleet-chart').getAttribute('data-lines') === '1'", timeout: 10) != nil,
                "the fleet chart draws one line: the one provider's MOS by hour")
        _ = try browser.evaluate("document.querySelector('#history-body tr[data-id=\"archived-call\"]').click()")
        let charted = try browser.waitUntil("\(Self.pointsJS) === 40", timeout: 10)
        let drawn = try browser.evaluate(Self.pointsJS)
        #expect(charted != nil, "the MOS chart has all 40 archived samples: \(String(describing: drawn))")
        #expect(try browser.evaluate("document.getElementById('d-conn').textContent") as? String == "archived")
        #expect(try browser.evaluate("Number(document.getElementById('ch-jitter').getAttribute('data-points'))") as? Double == 40)
        #expect(try browser.evaluate("Number(document.getElementById('ch-jitter').getAttribute('data-marks'))") as? Double == 1,
                "the high-jitter warning is marked")

        // The search box narrows the list to nothing for an unknown id.
        _ = try browser.evaluate("""
            document.getElementById('h-q').value = 'no-such-call';
            document.getElementById('history-form').requestSubmit();
            """)
        #expect(try browser.waitUntil("!document.getElementById('history-empty').hidden", timeout: 5) != nil)
        try browser.screenshot(to: HubProcess.repoRoot.appendingPathComponent("test-artifacts/history.png"))
        let errors = try browser.pageErrors()
        #expect(errors?.isEmpty == true, "page errors: \(errors ?? [])")
    }

    @Test func aLiveCallOpenedHalfWayChartsFromItsFirstSample() throws {
        let hub = try HubProcess()
        let start = Int(Date().timeIntervalSince1970 * 1000) - 60_000
        _ = try hub.http.postJSON("/api/calls/half-way/sync", #"{"event":"connected","timestamp":\#(start)}"#)
        for i in 0..<25 {
            _ = try hub.http.postJSON("/api/calls/half-way/sync",
                                      #"{"timestamp":\#(start + 1 + i * 1000),"data":{"quality":{"latency":30,"jitter":\#(i),"packetLoss":0}}}"#)
        }
        let token = HubProcess.token(role: .dashboard, sub: "e2e")
        let browser = try Chromium(url: "http://127.0.0.1:\(hub.port)/#token=\(token)&call=half-way")
        #expect(try browser.waitUntil("\(Self.pointsJS) === 25", timeout: 10) != nil,
                "the 25 samples sent before the pane opened are charted")
        // A live sample after opening is appended.
        _ = try hub.http.postJSON("/api/calls/half-way/sync",
                                  #"{"timestamp":\#(start + 40_000),"data":{"quality":{"latency":30,"jitter":3,"packetLoss":0}}}"#)
        #expect(try browser.waitUntil("\(Self.pointsJS) === 26", timeout: 10) != nil, "then the live one")
        #expect(try browser.pageErrors()?.isEmpty == true)
    }
}
