import Auth
import CallState
import Foundation
import HubTestSupport
import SwitchboardClient
import Testing

/// `SwitchboardCall` over the real libwebsockets transport against the real hub binary.
@Suite(.serialized) struct SwitchboardCallHubTests {
    static let fast = Backoff(initialMs: 100, maxMs: 500)

    /// A client token for `sid`.
    static func token(_ sid: String, sub: String = "phone", ttl: Int64 = 600) -> String {
        HubProcess.token(role: .client, sub: sub, sid: sid, ttl: ttl)
    }

    /// Changes the session as another party would (the seed's `/sync` route, admin token).
    static func sync(_ hub: HubProcess, _ sid: String, _ event: String, data: String = "{}") throws {
        let response = try hub.http.postJSON("/api/calls/\(sid)/sync",
                                             #"{"event":"\#(event)","data":\#(data),"timestamp":\#(nowMs())}"#)
        #expect(response.status == 200, "sync \(event): \(response.status) \(response.text)")
    }

    static func call(_ hub: HubProcess, _ sid: String, port: Int? = nil, token: String? = nil,
                     tokenProvider: TokenProvider? = nil,
                     transport: any WebSocketTransport = LWSWebSocketTransport()) -> SwitchboardCall {
        SwitchboardCall(baseURL: "http://127.0.0.1:\(port ?? hub.port)/", sessionId: sid,
                        token: token ?? Self.token(sid), tokenProvider: tokenProvider, transport: transport,
                        backoff: fast)
    }

    @Test func receivesTheSnapshotThenStatesPushedByOthers() async throws {
        let hub = try HubProcess()
        try Self.sync(hub, "c-1", "initiated")
        let call = Self.call(hub, "c-1")
        await call.start()

        let snapshot = try await first(call.states, "snapshot") { $0.kind == .snapshot }
        #expect(snapshot.callState == .initiated)
        #expect(snapshot.sessionId == "c-1")
        #expect(snapshot.epoch != nil)

        try Self.sync(hub, "c-1", "ringing")
        let ringing = try await first(call.states, "ringing") { $0.callState == .ringing }
        #expect(ringing.kind == .stateChange)
        #expect(ringing.version > snapshot.version)
        #expect(ringing.changed.contains("callState"))

        try Self.sync(hub, "c-1", "connected")
        let connected = try await first(call.states, "connected") { $0.callState == .connected }
        #expect(connected.version > ringing.version)
        #expect(await call.document?["callState"] == .string("connected"))
        #expect(await call.status == .open)
        await call.close()
        #expect(await call.status == .closed)
    }

    @Test func reportResolvesWithTheAckAndTheStateArrives() async throws {
        let hub = try HubProcess()
        let call = Self.call(hub, "c-2")
        await call.start()
        _ = try await first(call.states, "snapshot") { $0.kind == .snapshot }

        let ack = try await call.report(["callState": "connected", "deviceStatus": "busy"],
                                        metadata: ["agent": "ada"])
        #expect(ack.applied.contains("callState"))
        #expect(ack.applied.contains("deviceStatus"))
        #expect(!ack.duplicate)
        let update = try await first(call.states, "the reported state") { $0.version >= ack.version }
        #expect(update.callState == .connected)
        #expect(update["deviceStatus"] == .string("busy"))
        #expect(update["metadata"]?["agent"] == .string("ada"))

        // Derived fields come back in `ignored`; wrong types are an error frame.
        let partial = try await call.report(["logStatus": "ended"])
        #expect(partial.ignored.contains(Ack.Ignored(field: "logStatus", reason: "read_only")))
        await #expect(throws: SwitchboardError.self) {
            try await call.report(["callState": .int(5)])
        }
        do {
            try await call.report(["callState": .int(5)])
        } catch let error as SwitchboardError {
            #expect(error.code == "invalid_message")
        }
        await call.close()
    }

    @Test func callKitEventsMapToCallStates() async throws {
        let hub = try HubProcess()
        let call = Self.call(hub, "c-3")
        await call.start()
        let uuid = UUID().uuidString

        let expectations: [(String, CallStateValue)] = [
            ("incoming", .ringing), ("answer", .connected), ("hold", .onHold), ("unhold", .connected), ("end", .ended),
        ]
        var ts = nowMs()
        for (event, expected) in expectations {
            ts += 10  // strictly increasing, so each one wins the merge on ts
            let ack = try await call.reportCallKitEvent(event, callUUID: uuid, ts: ts)
            let update = try await first(call.states, event) { $0.version >= ack.version }
            #expect(update.callState == expected, "\(event)")
            #expect(update["callUUID"] == .string(uuid))
        }
        #expect(await call.isTerminal)
        await #expect(throws: SwitchboardError(code: "unknown_event", message: "no callState for event \"teleport\"")) {
            try await call.reportCallKitEvent("teleport")
        }
        await call.close()
    }

    @Test func reconnectsAndResumesAfterTheHubRestarts() async throws {
        let port = try freePort()
        let config: [String: Any] = ["server": ["host": "127.0.0.1", "port": port], "store": ["kind": "sqlite"]]
        let first1 = try HubProcess(config: config)
        try Self.sync(first1, "c-4", "ringing")
        let transport = RecordingTransport(LWSWebSocketTransport())
        let call = Self.call(first1, "c-4", port: port, transport: transport)
        await call.start()
        let before = try await first(call.states, "ringing") { $0.callState == .ringing }
        let ack = try await call.report(["callState": "connected"])
        _ = try await first(call.states, "connected") { $0.version >= ack.version }

        // Hold reconnects back, restart the hub on the same port and data dir,
        // and change the call while the client is away.
        transport.gateOpen = false
        let statuses = call.statuses  // subscribed before the drop: every status from here on
        #expect(first1.stop() == 0)
        let dropped = try await first(statuses, "reconnecting") {
            if case .reconnecting = $0 { return true } else { return false }
        }
        // The first retry after a 1001 comes within the drain fast path.
        guard case .reconnecting(let attempt, let delayMs, let closeCode, let cause) = dropped else { return }
        #expect(attempt == 1)
        #expect(closeCode == 1001)
        #expect(cause == .draining)
        #expect(delayMs < Self.fast.drainRetryMs, "first delay \(delayMs) ms after a drain")
        let second = try HubProcess(config: config, dataDir: first1.dataDir)
        #expect(second.port == port)
        try Self.sync(second, "c-4", "hold")
        try Self.sync(second, "c-4", "connecting", data: #"{"metadata":{"note":"away"}}"#)

        let afterRestart = call.states  // subscribed before the gate opens: every update of the resume
        transport.gateOpen = true
        let resumed = try await first(call.states, "on_hold after the restart") { $0.callState == .onHold }
        #expect(resumed.version > ack.version)
        // The hub replays from its journal: a recovered:true snapshot keeps the
        // document (the client emits no snapshot) and the missed frames follow
        // in order, the first one being the version after the last one held.
        var replayed: [CallUpdate] = []
        for await update in afterRestart {
            replayed.append(update)
            if update.callState == .onHold { break }
        }
        // (The stream opens with the update already held; the resume is what follows it.)
        replayed.removeAll { $0.version <= ack.version }
        #expect(replayed.allSatisfy { $0.kind == .stateChange }, "kinds: \(replayed.map(\.kind))")
        #expect(replayed.first?.version == ack.version + 1, "versions: \(replayed.map(\.version))")
        #expect(resumed.epoch == before.epoch)  // the journal keeps epochs
        let urls = transport.urls
        #expect(urls.count >= 2)
        #expect(urls.last?.contains("epoch=\(before.epoch ?? "?")") == true)
        #expect(urls.last?.contains("since=\(ack.version)") == true)
        #expect(await call.status == .open)

        // The link works again both ways.
        let later = try await call.reportCallKitEvent("unhold", ts: nowMs() + 1)
        let back = try await first(call.states, "connected again") { $0.version >= later.version }
        #expect(back.callState == .connected)
        await call.close()
    }

    @Test func refreshesTheTokenOnTokenExpiringAndStaysConnected() async throws {
        let hub = try HubProcess()
        let calls = Counter()
        let call = Self.call(hub, "c-5", token: Self.token("c-5", ttl: 3), tokenProvider: {
            calls.increment()
            return Self.token("c-5", ttl: 600)
        })
        let statuses = call.statuses
        let collector = Task { () -> [ConnectionStatus] in
            var seen: [ConnectionStatus] = []
            for await status in statuses { seen.append(status) }
            return seen
        }
        await call.start()
        _ = try await first(call.states, "snapshot") { $0.kind == .snapshot }

        // The provider is asked on token_expiring, then the first token's exp
        // (3 s after start) passes: wait on each, with deadlines.
        let expired = Date(timeIntervalSinceNow: 3)
        let deadline = Date(timeIntervalSinceNow: 10)
        while calls.value < 1 || Date() < expired.addingTimeInterval(1), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(calls.value >= 1)
        #expect(await call.status == .open)
        let ack = try await call.report(["callState": "connected"])
        #expect(ack.applied == ["callState"])
        await call.close()
        let seen = await collector.value
        #expect(!seen.contains { if case .reconnecting = $0 { return true } else { return false } },
                "reconnected: \(seen)")
    }

    @Test func afterClose4004ItGetsANewTokenAndReconnects() async throws {
        let hub = try HubProcess()
        let calls = Counter()
        // The provider fails when asked on token_expiring, so the hub closes 4004 at exp.
        let call = Self.call(hub, "c-7", token: Self.token("c-7", ttl: 2), tokenProvider: {
            calls.increment()
            if calls.value == 1 { throw SwitchboardError(code: "offline", message: "backend unreachable") }
            return Self.token("c-7", ttl: 600)
        })
        let statuses = call.statuses
        await call.start()
        _ = try await first(call.states, "snapshot") { $0.kind == .snapshot }
        _ = try await first(statuses, within: 8, "4004") {
            if case .reconnecting(_, _, 4004?, _) = $0 { return true } else { return false }
        }
        _ = try await first(statuses, "open again") { $0 == .open }
        #expect(calls.value == 2)
        let ack = try await call.report(["callState": "ringing"])
        #expect(ack.applied == ["callState"])
        await call.close()
    }

    @Test func stopsWithoutRetryingWhenTheTokenIsForAnotherSession() async throws {
        let hub = try HubProcess()
        let transport = RecordingTransport(LWSWebSocketTransport())
        let call = Self.call(hub, "c-6", token: Self.token("someone-else"), transport: transport)
        await call.start()
        let final = try await first(call.statuses, "failed") { $0.isStopped }
        guard case .failed(let code, let reason) = final else { Issue.record("ended \(final), not failed"); return }
        #expect(code == 403)
        #expect(reason.contains("upgrade refused (403)"), "the reason names the refusal: \(reason)")
        try await Task.sleep(for: .milliseconds(700))  // longer than the whole back-off cap
        #expect(transport.urls.count == 1)
        await #expect(throws: SwitchboardError.self) { try await call.report(["callState": "connected"]) }
    }
}

/// A thread-safe counter for `@Sendable` closures.
final class Counter: @unchecked Sendable {  // `count` only under `lock`
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
