import Foundation
import HubTestSupport
import Testing

/// A subscriber that stops reading is closed with 4008 once its queue passes
/// `limits.sendQueueBytes`; the others keep receiving (issue 2 §5).
@Suite struct BackpressureTests {
    @Test func aSlowConsumerIsClosedWith4008WhileAFastOneGetsEverything() throws {
        let hub = try HubProcess(config: ["limits": ["sendQueueBytes": 64 * 1024, "maxMessageBytes": 65536, "messagesPerSecond": 100_000,
                                                          "maxMetadataValueBytes": 1 << 20, "maxDocumentBytes": 16 << 20]])
        // A tiny receive buffer makes the kernel stop accepting quickly.
        let slow = try hub.connect("/ws/calls/fanout", receiveBuffer: 4096)
        let fast = try hub.connect("/ws/calls/fanout")
        _ = try fast.nextJSON()
        let writer = try hub.connect("/ws/calls/fanout")
        _ = try writer.nextJSON()

        let pad = String(repeating: "p", count: 8000)
        let total = 300
        var seen: [Int] = []
        for i in 1...total {
            try writer.send(#"{"type":"report","ts":\#(1_000 + i),"state":{"metadata":{"i":\#(i),"pad":"\#(pad)"}}}"#)
            // drain the writer's own copy so it is never the slow one
            _ = try writer.nextJSON()
            let frame = try fast.nextJSON()
            seen.append(frame["version"] as? Int ?? -1)
        }
        #expect(seen == Array(1...total))

        // The slow reader's queue passed the limit long ago: its stream ends in 4008.
        var code: Int?
        let deadline = Date(timeIntervalSinceNow: 10)
        while code == nil, Date() < deadline {
            if case .close(let c, _) = try slow.next(timeout: 5) { code = c }
        }
        #expect(code == 4008)
        // The hub logs the close once the socket is gone (after its linger).
        #expect(hub.waitForLog("code=4008"))
    }
}

/// A subscriber that falls behind gets its queued frames pre-framed into one
/// buffer per write (DESIGN.md "The hot path"): order and bytes must survive.
@Suite struct BatchedWriteTests {
    /// A hub, a subscriber with a 4 KB receive buffer that does not read yet,
    /// and a writer on the same session; both past their snapshot.
    static func slowReaderAndWriter(session: String, maxMessageBytes: Int, sendQueueBytes: Int) throws
        -> (hub: HubProcess, reader: WSClient, writer: WSClient) {
        let hub = try HubProcess(config: ["limits": ["maxMessageBytes": maxMessageBytes, "sendQueueBytes": sendQueueBytes, "maxMetadataValueBytes": 1 << 20, "maxDocumentBytes": 16 << 20,
                                                     "messagesPerSecond": 100_000]])
        let reader = try hub.connect("/ws/calls/\(session)", receiveBuffer: 4096)
        _ = try reader.nextJSON()
        let writer = try hub.connect("/ws/calls/\(session)")
        _ = try writer.nextJSON()
        return (hub, reader, writer)
    }

    /// Reports 1...count, each `metadata.i` = its number and a `pad` of
    /// `padBytes(i)` bytes; waits for each one's ack.
    static func report(_ count: Int, from writer: WSClient, padBytes: (Int) -> Int) throws {
        for i in 1...count {
            let pad = String(repeating: "x", count: padBytes(i))
            try writer.send(#"{"type":"report","ts":\#(1_000 + i),"state":{"metadata":{"i":\#(i),"pad":"\#(pad)"}}}"#)
            _ = try writer.nextJSON()
        }
    }

    @Test func queuedFramesOfEverySizeArriveIntactAndInOrder() throws {
        let (hub, reader, writer) = try Self.slowReaderAndWriter(session: "batch", maxMessageBytes: 200_000,
                                                                 sendQueueBytes: 16 << 20)
        let sizes = [10, 300, 150_000]  // 7-bit, 16-bit and 64-bit length headers
        let count = 150  // ~7.5 MB: more than the kernel's socket buffers hold, so frames queue in the hub
        try Self.report(count, from: writer) { sizes[$0 % 3] }
        // The reader did not read while the frames piled up; now it does.
        // Far behind, it may be conflated: versions jump, never go back, and
        // every frame it gets is whole.
        var last = 0
        var frames = 0
        while last < count {
            let frame = try reader.nextJSON(timeout: 10)
            guard frame["type"] as? String == "state_change", let version = frame["version"] as? Int else { continue }
            #expect(version > last)
            last = version
            frames += 1
            let metadata = (frame["call"] as? [String: Any])?["metadata"] as? [String: Any]
            let i = try #require(metadata?["i"] as? Int)
            #expect(i == version)
            #expect((metadata?["pad"] as? String)?.count == sizes[i % 3])
        }
        #expect(last == count)
        let metrics = try hub.http.get("/metrics").text
        let conflated = metrics.split(separator: "\n").first { $0.hasPrefix("switchboard_frames_conflated_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        #expect(frames + conflated == count, "every version was either sent or conflated: \(frames) + \(conflated)")
    }

    /// Frames for an idle subscriber are written at the end of the loop's
    /// turn, outside the writable callback; a write the socket cannot take
    /// whole is finished by libwebsockets while later frames queue behind
    /// it. Far below the conflation threshold, every version must arrive
    /// exactly once, in order.
    @Test func directWritesThatOverflowTheSocketKeepEveryFrameInOrder() throws {
        let (hub, reader, writer) = try Self.slowReaderAndWriter(session: "direct", maxMessageBytes: 100_000,
                                                                 sendQueueBytes: 256 << 20)
        defer { withExtendedLifetime(hub) {} }  // the hub lives until the last frame is read
        let count = 200  // 20 KB each, 4 MB in all: most of it waits in the hub
        try Self.report(count, from: writer) { _ in 20_000 }
        var versions: [Int] = []
        while versions.count < count {
            let frame = try reader.nextJSON(timeout: 10)
            guard frame["type"] as? String == "state_change", let version = frame["version"] as? Int else { continue }
            versions.append(version)
        }
        #expect(versions == Array(1...count))
    }

    /// Two reports read in one turn change the session twice: a watcher that
    /// keeps up gets both `state_change` frames in one write, not one each
    /// (`TurnWrites`). The writer's own copies and its acks wait for its
    /// writable callback (replies to a message it sent), also one write.
    @Test func framesMadeInOneTurnLeaveInOneWritePerSubscriber() throws {
        let hub = try HubProcess()
        let watcher = try hub.connect("/ws/calls/turn")
        _ = try watcher.nextJSON()
        let writer = try hub.connect("/ws/calls/turn")
        _ = try writer.nextJSON()
        let before = try Self.counters(hub)

        try writer.sendTogether([#"{"type":"report","id":"a","ts":1000,"state":{"callState":"ringing"}}"#,
                                 #"{"type":"report","id":"b","ts":1001,"state":{"callState":"connected"}}"#])
        #expect(try watcher.nextJSON()["version"] as? Int == 1)
        #expect(try watcher.nextJSON()["version"] as? Int == 2)
        var writerFrames = 0
        while writerFrames < 4 { _ = try writer.nextJSON(); writerFrames += 1 }

        let after = try Self.counters(hub)
        #expect(after.frames - before.frames == 6, "2 state_change to each + 2 acks")
        #expect(after.writes - before.writes == 2, "one write per subscriber")
    }

    static func counters(_ hub: HubProcess) throws -> (frames: Int, writes: Int) {
        let lines = try hub.http.get("/metrics").text.split(separator: "\n")
        func value(_ name: String) -> Int {
            lines.first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
        }
        return (value("switchboard_frames_sent_total"), value("switchboard_ws_writes_total"))
    }
}
