import CallState
import Foundation
import SwitchboardClient
import Testing

/// Close-code policy, versions and resume, against a scripted transport (no network).
@Suite struct SwitchboardCallPolicyTests {
    static let fast = Backoff(initialMs: 20, maxMs: 50, drainRetryMs: 20)

    static func snapshot(version: Int, epoch: String = "e1", state: String = "ringing", recovered: Bool = false) -> String {
        recovered
            ? #"{"type":"snapshot","sessionId":"s","epoch":"\#(epoch)","version":\#(version),"recovered":true,"presence":[]}"#
            : #"{"type":"snapshot","sessionId":"s","epoch":"\#(epoch)","version":\#(version),"recovered":false,"call":{"sessionId":"s","callState":"\#(state)","version":\#(version)},"presence":[]}"#
    }

    static func change(version: Int, state: String, epoch: String = "e1") -> String {
        #"{"type":"state_change","sessionId":"s","callId":null,"state":"\#(state)","version":\#(version),"epoch":"\#(epoch)","changed":["callState"],"call":{"sessionId":"s","callState":"\#(state)","version":\#(version)},"conflicts":[]}"#
    }

    func makeCall(_ transport: ScriptedTransport, token: String? = "t0", provider: TokenProvider? = nil) -> SwitchboardCall {
        SwitchboardCall(baseURL: "https://hub.example.com/prefix", sessionId: "s", token: token, tokenProvider: provider,
                        transport: transport, backoff: Self.fast, heartbeat: nil)
    }

    @Test func ignoresOldVersionsAndResumesFromTheLastOneApplied() async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport)
        let states = call.states  // every update, so a stale one applied in between shows
        let seen = Task { () -> [String] in
            var applied: [String] = []
            for await update in states {
                applied.append("\(update.version):\(update.callState?.rawValue ?? "-")")
                if update.version >= 6 { break }
            }
            return applied
        }
        await call.start()
        let c0 = try await transport.connection(0)
        #expect(c0.url == "wss://hub.example.com/prefix/ws/calls/s")
        #expect(c0.headers == ["Authorization": "Bearer t0"])
        c0.push(Self.snapshot(version: 3))
        c0.push(Self.change(version: 4, state: "connecting"))
        c0.push(Self.change(version: 4, state: "failed"))      // same version: ignored
        c0.push(Self.change(version: 2, state: "ended"))       // older: ignored
        c0.push(Self.change(version: 6, state: "connected"))   // conflated jump: fine
        let connected = try await first(call.states, "v6") { $0.version == 6 }
        #expect(connected.callState == .connected)
        #expect(await seen.value == ["3:ringing", "4:connecting", "6:connected"])

        c0.hubCloses(1001, "hub shutting down")
        let c1 = try await transport.connection(1)
        #expect(c1.url == "wss://hub.example.com/prefix/ws/calls/s?epoch=e1&since=6")
        // recovered:true keeps the document; the replayed frames follow.
        c1.push(Self.snapshot(version: 6, recovered: true))
        c1.push(Self.change(version: 7, state: "on_hold"))
        let held = try await first(call.states, "v7") { $0.version == 7 }
        #expect(held.callState == .onHold)
        #expect(held.kind == .stateChange)

        // recovered:false replaces the document even with a lower version (new epoch).
        c1.hubCloses(4008, "slow consumer")
        let c2 = try await transport.connection(2)
        c2.push(Self.snapshot(version: 2, epoch: "e2", state: "ringing"))
        let fresh = try await first(call.states, "fresh snapshot") { $0.epoch == "e2" }
        #expect(fresh.kind == .snapshot)
        #expect(fresh.version == 2)
        #expect(await call.version == 2)
        await call.close()
    }

    @Test(arguments: [4003, 4400, 1009])
    func fatalCloseCodesStopWithoutRetrying(code: Int) async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport)
        await call.start()
        let c0 = try await transport.connection(0)
        c0.push(Self.snapshot(version: 1))
        c0.hubCloses(code, "nope")
        let final = try await first(call.statuses, "stop") { $0.isStopped }
        #expect(final == .failed(code: code, reason: "nope"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(transport.connections.count == 1)
    }

    @Test func normalCloseFromTheHubStops() async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport)
        await call.start()
        try await transport.connection(0).hubCloses(1000)
        #expect(try await first(call.statuses, "stop") { $0.isStopped } == .closed)
    }

    @Test(arguments: [4001, 4004])
    func tokenCloseCodesFetchANewTokenThenReconnect(code: Int) async throws {
        let transport = ScriptedTransport()
        let issued = Counter()
        let call = makeCall(transport, provider: {
            issued.increment()
            return "t\(issued.value)"
        })
        await call.start()
        let c0 = try await transport.connection(0)
        c0.hubCloses(code, "token")
        let c1 = try await transport.connection(1)
        #expect(c1.headers["Authorization"] == "Bearer t1")
        #expect(issued.value == 1)
        await call.close()
    }

    @Test func tokenCloseWithoutAProviderFails() async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport)
        await call.start()
        try await transport.connection(0).hubCloses(4004, "token expired")
        #expect(try await first(call.statuses, "stop") { $0.isStopped } == .failed(code: 4004, reason: "token expired"))
    }

    @Test func tokenExpiringSendsAuthOnTheOpenConnection() async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport, provider: { "fresh-token" })
        await call.start()
        let c0 = try await transport.connection(0)
        c0.push(Self.snapshot(version: 1))
        c0.push(#"{"type":"token_expiring","inMs":2500}"#)
        let auth = try await c0.waitForSent(containing: #""type":"auth""#)
        #expect(auth.contains(#""token":"fresh-token""#))
        await call.close()
    }

    @Test func unacknowledgedReportsAreResentWithTheSameIdAfterADrop() async throws {
        let transport = ScriptedTransport()
        let call = makeCall(transport)
        await call.start()
        let c0 = try await transport.connection(0)
        c0.push(Self.snapshot(version: 1))
        let pending = Task { try await call.report(["callState": "connected"], ts: 1234) }
        let sent = try await c0.waitForSent(containing: #""type":"report""#)
        let id = try #require(sent.firstMatch(of: /"id":"([^"]+)"/)?.1).description
        c0.hubCloses(1006)
        let c1 = try await transport.connection(1)
        let resent = try await c1.waitForSent(containing: #""type":"report""#)
        #expect(resent == sent)
        c1.push(#"{"type":"ack","id":"\#(id)","version":2,"applied":[],"ignored":[],"duplicate":true}"#)
        let ack = try await pending.value
        #expect(ack.duplicate)
        #expect(ack.version == 2)
        await call.close()
    }

    @Test func closeFailsPendingReports() async throws {
        let transport = ScriptedTransport()
        transport.refusal = WebSocketTransportError(httpStatus: 503, message: "draining")
        let call = makeCall(transport)
        await call.start()
        let pending = Task { try await call.report(["callState": "ringing"]) }
        try await Task.sleep(for: .milliseconds(50))
        await call.close()
        await #expect(throws: SwitchboardError.self) { try await pending.value }
    }

    @Test func refusedUpgradesFollowTheCloseCodePolicy() async throws {
        let transport = ScriptedTransport()
        transport.refusal = WebSocketTransportError(httpStatus: 404, message: "no such endpoint")
        let call = makeCall(transport)
        await call.start()
        let final = try await first(call.statuses, "stop") { $0.isStopped }
        #expect(final == .failed(code: 404, reason: "WebSocket upgrade refused (404): no such endpoint"))
    }

    @Test func aSilentConnectionIsDroppedByTheHeartbeatAndReopened() async throws {
        let transport = ScriptedTransport()
        let call = SwitchboardCall(baseURL: "ws://hub/", sessionId: "s", token: "t", transport: transport,
                                   backoff: Self.fast, heartbeat: .milliseconds(50), pongTimeout: .milliseconds(300))
        // The pong deadline is six heartbeats: the answers below come from a
        // task on a shared 2-thread pool, which a loaded machine can delay.
        let statuses = call.statuses
        await call.start()
        let c0 = try await transport.connection(0)
        c0.push(Self.snapshot(version: 1))
        _ = try await c0.waitForSent(containing: #""type":"ping""#)
        // No pong, nothing at all: the link is given up on.
        let silent = try await first(statuses, "silent") {
            if case .reconnecting(_, _, 4000?, .silent) = $0 { return true } else { return false }
        }
        #expect(silent.description.hasPrefix("reconnecting in "))
        #expect(silent.description.hasSuffix(" ms because the hub stopped answering (4000)"))
        let c1 = try await transport.connection(1)
        #expect(c0.closedWith == 4000)
        #expect(c1.url == "ws://hub/ws/calls/s?epoch=e1&since=1")
        // Pongs keep the next link open (for longer than the pong deadline).
        for _ in 0..<10 {
            let ping = try await c1.waitForSent(containing: #""type":"ping""#)
            c1.push(#"{"type":"pong"}"#)
            _ = ping
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(transport.connections.count == 2)
        #expect(await call.status == .open)
        await call.close()
    }

    @Test func anUnansweredUpgradeIsGivenUpAfterTheOpenTimeout() async throws {
        let transport = StallingTransport(stalls: 1)
        let call = SwitchboardCall(baseURL: "ws://hub/", sessionId: "s", token: "t", transport: transport,
                                   backoff: Self.fast, heartbeat: nil, openTimeout: .milliseconds(100))
        let statuses = call.statuses
        await call.start()
        let timedOut = try await first(statuses, "open timeout") {
            if case .reconnecting(_, _, nil, .openTimeout) = $0 { return true } else { return false }
        }
        #expect(timedOut.description.contains("because the hub did not answer the handshake"))
        _ = try await first(statuses, "open") { $0 == .open }
        #expect(transport.attempts == 2)
        await call.close()
    }

    @Test func backoffDefaultsAndTheirBounds() {
        let b = Backoff.default
        #expect(b == Backoff(initialMs: 250, maxMs: 5000, drainRetryMs: 1000, outageRatio: 0.15))
        // The first retry of an outage: within 250 ms, or within 1 s after a 1001.
        #expect(b.delayMs(previousMs: 0, downMs: 0, closeCode: 1006, random: 0.999) == 249)
        #expect(b.delayMs(previousMs: 0, downMs: 0, closeCode: nil, random: 0) == 0)
        #expect(b.delayMs(previousMs: 0, downMs: 0, closeCode: 1001, random: 0.999) == 999)
        // Then decorrelated jitter in [250, 3 × previous], capped by 5 s and 15 % of the downtime.
        #expect(b.delayMs(previousMs: 400, downMs: 60_000, closeCode: nil, random: 0.999) == 1199)
        #expect(b.delayMs(previousMs: 400, downMs: 60_000, closeCode: nil, random: 0) == 250)
        #expect(b.delayMs(previousMs: 4000, downMs: 60_000, closeCode: nil, random: 0.999) == 5000)
        #expect(b.delayMs(previousMs: 4000, downMs: 10_000, closeCode: nil, random: 0.999) == 1500)
        #expect(b.delayMs(previousMs: 4000, downMs: 300, closeCode: nil, random: 0.999) == 250)
        // 4029: uniform in [maxMs/2, maxMs].
        #expect(b.delayMs(previousMs: 0, downMs: 0, closeCode: 4029, random: 0) == 2500)
        for _ in 0..<500 {
            let previous = Int.random(in: 1...8000), down = Int.random(in: 0...60_000)
            let d = b.delayMs(previousMs: previous, downMs: down, closeCode: 1006, random: .random(in: 0..<1))
            #expect(d >= 250 && d <= min(5000, max(250, down * 15 / 100)), "\(d) after \(previous) with \(down) ms down")
        }
    }

    @Test func aTenSecondOutageIsLeftWithinTwoSecondsOfItsEnd() {
        for _ in 0..<50 {
            var t = 0, previous = 0, tries = 0, last = 0
            while t < 10_000 {
                let d = Backoff.default.delayMs(previousMs: previous, downMs: t, closeCode: 1006, random: .random(in: 0..<1))
                previous = max(d, 1)
                t += d
                tries += 1
                last = d
            }
            #expect(last <= 1600, "the retry after the 10 s mark came \(last) ms after the one before")
            #expect(tries <= 41)  // every retry but the first waits initialMs or more
        }
    }

    @Test func callKitVocabulary() {
        #expect(CallKitEvents.callState(for: "answer") == .connected)
        #expect(CallKitEvents.callState(for: "answerCall") == .connected)
        #expect(CallKitEvents.callState(for: "accept") == .connected)
        #expect(CallKitEvents.callState(for: "end") == .ended)
        #expect(CallKitEvents.callState(for: "endCall") == .ended)
        #expect(CallKitEvents.callState(for: "hold") == .onHold)
        #expect(CallKitEvents.callState(for: "unhold") == .connected)
        #expect(CallKitEvents.callState(for: "reject") == .declined)
        #expect(CallKitEvents.callState(for: "cancel") == .canceled)
        #expect(CallKitEvents.callState(for: "start") == .initiated)
        #expect(CallKitEvents.callState(for: "incoming") == .ringing)
        #expect(CallKitEvents.callState(for: "no_answer") == .noAnswer)
        #expect(CallKitEvents.callState(for: "teleport") == nil)
    }
}
