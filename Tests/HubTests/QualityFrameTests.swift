import Foundation
import HubTestSupport
import Testing

/// Quality frames (PROTOCOL.md §3.2, §4; issue 5): computed MOS, aggregate,
/// and coalescing to one frame per `quality.intervalMs`.
@Suite struct QualityFrameTests {
    func qualityFrames(_ ws: WSClient, for duration: TimeInterval) -> [[String: Any]] {
        var frames: [[String: Any]] = []
        let deadline = Date(timeIntervalSinceNow: duration)
        while Date() < deadline {
            if let f = try? ws.nextJSON(timeout: max(0.05, deadline.timeIntervalSinceNow)), f["type"] as? String == "quality" {
                frames.append(f)
            }
        }
        return frames
    }

    @Test func aQualitySampleYieldsAFrameWithTheEModelMOSAndTheAggregate() throws {
        let hub = try HubProcess()
        let ws = try hub.connect("/ws/calls/q")
        _ = try ws.nextJSON()
        try ws.send(#"{"type":"quality","id":"q1","ts":1000,"metrics":{"latency":20,"jitter":0,"packetLoss":0}}"#)
        let frames = qualityFrames(ws, for: 0.6)
        let frame = try #require(frames.first)
        let quality = try #require(frame["quality"] as? [String: Any])
        #expect(abs((quality["mos"] as? Double ?? 0) - 4.394) < 0.01, "E-model reference case: 20 ms, no jitter, no loss")
        #expect(quality["mosSource"] as? String == "e-model")
        #expect(quality["grade"] as? String == "excellent")
        #expect((frame["aggregate"] as? [String: Any])?["samples"] as? Int == 1)
        #expect(frame["warnings"] is [Any])
    }

    @Test func aBurstOfSamplesIsCoalescedAndTheLastFrameCarriesTheLastSample() throws {
        let hub = try HubProcess(config: ["quality": ["intervalMs": 1000], "limits": ["messagesPerSecond": 10_000]])
        let ws = try hub.connect("/ws/calls/burst")
        _ = try ws.nextJSON()
        for i in 1...100 {
            try ws.send(#"{"type":"quality","ts":\#(1000 + i),"metrics":{"rtt":\#(40 + i * 2),"jitter":2,"packetLoss":0}}"#)
        }
        let frames = qualityFrames(ws, for: 2.5)
        #expect((1...2).contains(frames.count), "100 samples → \(frames.count) quality frames")
        let last = try #require(frames.last)
        #expect((last["quality"] as? [String: Any])?["latency"] as? Double == 120, "rtt 240 / 2 of the 100th sample")
        #expect((last["aggregate"] as? [String: Any])?["samples"] as? Int == 100)
    }

    @Test func degradedSamplesRaiseWarningsOnTheDashboard() throws {
        let hub = try HubProcess(config: ["quality": ["intervalMs": 0], "limits": ["messagesPerSecond": 10_000]])
        let ws = try hub.connect("/ws/calls/bad-line")
        _ = try ws.nextJSON()
        for i in 1...5 {
            try ws.send(#"{"type":"quality","ts":\#(1000 + i * 1000),"metrics":{"rtt":600,"jitter":60,"packetLoss":5}}"#)
        }
        let frames = qualityFrames(ws, for: 1.0)
        let warnings = Set((frames.last?["warnings"] as? [String]) ?? [])
        #expect(warnings.isSuperset(of: ["high-rtt", "high-jitter", "high-packet-loss", "low-mos"]), "\(warnings)")
        let poor = try hub.http.get("/api/calls?grade=bad").json["sessions"] as? [[String: Any]] ?? []
        #expect(poor.map { $0["sessionId"] as? String } == ["bad-line"])
        #expect((poor.first?["warnings"] as? [String])?.contains("high-jitter") == true)
    }
}
