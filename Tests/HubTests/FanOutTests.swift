import Auth
import CallState
import Hub
import Logging
import Testing

/// The reactor's fan-out, in-process: what a frame costs per subscriber.
@Suite struct FanOutTests {
    final class Recorder: Subscriber {
        var frames: [Frame] = []
        func deliver(_ frame: Frame) { frames.append(frame) }
    }

    let viewer = ClientIdentity(sub: "viewer", role: .viewer, sid: "*")

    func report(_ ts: Int64, _ state: String) -> DecodedInput {
        DecodedInput(input: Input(kind: "test", source: "client:t", sourceKind: .client, receivedAt: ts,
                                  updates: [Update(field: .callState, value: .string(state), ts: ts,
                                                   source: "client:t", sourceKind: .client)]),
                     ignored: [])
    }

    @Test func aFrameIsEncodedOnceAndTheSameBytesGoToEverySubscriber() throws {
        let hub = try Hub(config: HubConfig(), frameHeadroom: 16, logger: Logger(label: "test"))
        let subscribers = (0..<5).map { _ in Recorder() }
        for s in subscribers { hub.subscribe(s, to: "shared", identity: viewer) }
        try hub.accept(report(1_000, "ringing"), to: "shared", now: 2_000) { _ in }
        let changes = subscribers.map { $0.frames.last! }
        #expect(changes.allSatisfy { $0 === changes[0] }, "one Frame object shared by reference")
        #expect(changes[0].headroom == 16)
        #expect(changes[0].text.contains("\"state_change\""))
        // snapshots are per subscriber (they are the subscription's first frame)
        #expect(subscribers.allSatisfy { $0.frames.count == 2 && $0.frames[0].kind == .snapshot })
    }

    @Test func unsubscribedReceiversGetNothingMore() throws {
        let hub = try Hub(config: HubConfig(), frameHeadroom: 0, logger: Logger(label: "test"))
        let stays = Recorder(), leaves = Recorder()
        hub.subscribe(stays, to: "s", identity: viewer)
        hub.subscribe(leaves, to: "s", identity: ClientIdentity(sub: "other", role: .viewer, sid: "*"))
        hub.unsubscribe(leaves, from: "s", identity: ClientIdentity(sub: "other", role: .viewer, sid: "*"))
        try hub.accept(report(1_000, "ringing"), to: "s", now: 2_000) { _ in }
        #expect(stays.frames.filter { $0.kind == .state }.count == 1)
        #expect(leaves.frames.filter { $0.kind == .state }.isEmpty)
    }
}
