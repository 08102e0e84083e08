import Foundation
import HubTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Network chaos against the real hub: mutated HTTP requests and malformed
/// WebSocket frames, pipelined, split, cut, for a bounded time. Afterwards
/// the hub must answer at once, sit idle, and hold every document it had
/// accepted before, unchanged. `SWITCHBOARD_CHAOS_SECONDS` and
/// `SWITCHBOARD_CHAOS_SEED` lengthen or replay a run (SECURITY.md).
@Suite struct ChaosTests {
    /// SplitMix64: a seeded generator, so a failing run can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    /// A valid token (sub `chaos`): history answers and device writes are
    /// deferred (the archive thread, the journal), so the chaos cuts
    /// connections while those are pending. Neither touches a document.
    static let dashboardToken = HubProcess.token(role: .dashboard, sub: "chaos", ttl: 3600)

    static let requests: [String] = [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /api/calls/keep-1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer junk\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"event\":\"ringing\"}",
        "POST /webhooks/generic/keep-2 HTTP/1.1\r\nHost: x\r\nX-Switchboard-Signature: t=1,v1=00\r\nContent-Length: 2\r\n\r\n{}",
        "POST /api/calls/keep-3/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n0\r\n\r\n",
        "GET /api/calls/keep-1?since=1&wait=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /api/twilio/status?session=keep-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 22\r\n\r\nCallSid=CA1&CallStatus",
        "GET /ws/calls/keep-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/twilio/token?session=keep-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer junk\r\n\r\n",
        "GET /api/webhooks/deliveries?status=failed&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /api/webhooks/deliveries/x/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "POST /api/calls/initiate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{\"phoneNumber\":\"+15550100\"}",
        "PUT /api/users/keep-u/devices/d1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer junk\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"platform\":\"ios\"}",
        "GET /api/users/keep-u/devices HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /api/history?limit=2&cursor=1~keep-1&q=%25 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\n\r\n",
        "GET /api/history.csv?state=ended HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\n\r\n",
        "GET /api/calls/keep-1/quality HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\n\r\n",
        "GET /api/quality/summary?by=hour HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\n\r\n",
        "DELETE /api/calls/keep-9 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer junk\r\n\r\n",
        // The device registry with the user's own token: journaled writes, answered after their commit.
        "PUT /api/users/chaos/devices/d1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\nContent-Type: application/json\r\nContent-Length: 48\r\n\r\n{\"platform\":\"android\",\"pushToken\":\"chaos-token\"}",
        "DELETE /api/users/chaos/devices/d1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(dashboardToken)\r\n\r\n",
    ]

    static let junk: [[UInt8]] = [[0], [13], [10], [13, 10], [32], [0xFF], Array("\r\n\r\n".utf8), Array("%00".utf8),
                                  Array("Content-Length: 5\r\n".utf8), Array("Transfer-Encoding: chunked\r\n".utf8),
                                  Array(" HTTP/1.1".utf8), Array(repeating: UInt8(ascii: "A"), count: 9000)]

    /// One mutated request stream.
    static func mutatedHTTP(_ rng: inout Random) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0...rng.below(4) { bytes += Array(rng.pick(requests).utf8) }
        for _ in 0..<rng.below(6) where !bytes.isEmpty {
            let at = rng.below(bytes.count)
            switch rng.below(4) {
            case 0: bytes[at] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
            case 1: bytes.insert(contentsOf: rng.pick(junk), at: at)
            case 2: bytes.removeSubrange(at..<min(bytes.count, at + rng.below(16) + 1))
            default: bytes = Array(bytes[..<at])
            }
        }
        return bytes
    }

    /// A client frame with a chosen header, possibly unmasked, oversized, or reserved.
    static func frame(_ rng: inout Random) -> [UInt8] {
        var payload: [UInt8] = (0..<rng.pick([0, 5, 125, 126, 300, 70_000])).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        if rng.chance(30) { payload = Array(#"{"type":"report","id":"x","ts":1,"state":{"callState":"ended"}}"#.utf8) }
        let opcode = UInt8(rng.pick([0x0, 0x1, 0x2, 0x3, 0x7, 0x8, 0x9, 0xA, 0xB, 0xF]))
        var first = opcode | (rng.chance(80) ? 0x80 : 0)
        if rng.chance(10) { first |= 0x40 }  // RSV1 without an extension
        let masked = rng.chance(85)
        var out: [UInt8] = [first]
        let n = payload.count
        if n < 126 {
            out.append((masked ? 0x80 : 0) | UInt8(n))
        } else if n < 65536 {
            out += [(masked ? 0x80 : 0) | 126, UInt8(n >> 8), UInt8(n & 0xff)]
        } else {
            out.append((masked ? 0x80 : 0) | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((n >> shift) & 0xff)) }
        }
        if masked {
            let mask = (0..<4).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            out += mask
            out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            out += payload
        }
        if rng.chance(20) { out = Array(out[..<rng.below(out.count)]) }
        return out
    }

    static func send(_ bytes: [UInt8], to socket: TestSocket, _ rng: inout Random) {
        var at = 0
        while at < bytes.count {
            let piece = rng.chance(50) ? bytes.count - at : min(bytes.count - at, rng.below(64) + 1)
            guard (try? socket.write(Array(bytes[at..<(at + piece)]))) != nil else { return }
            at += piece
            if rng.chance(5) { usleep(UInt32(rng.below(3000))) }
        }
    }

    @Test func mutatedRequestsAndFramesLeaveTheHubHealthyIdleAndItsDocumentsUnchanged() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["SWITCHBOARD_CHAOS_SECONDS"].flatMap(Double.init) ?? 4
        let seed = environment["SWITCHBOARD_CHAOS_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970 * 1000)
        let hub = try HubProcess(config: ["store": ["kind": "sqlite"], "providers": ["generic": ["secret": "chaos-secret"]],
                                          "limits": ["headerTimeoutMs": 500, "bodyTimeoutMs": 500]])
        for n in 1...3 {
            let response = try hub.http.postJSON("/api/calls/keep-\(n)/events",
                                                 #"{"id":"e\#(n)","ts":1000,"state":{"callState":"connected"},"metadata":{"n":\#(n)}}"#)
            #expect(response.status == 200)
        }
        let before = try (1...3).map { try hub.http.get("/api/calls/keep-\($0)").text }
        // WebSockets that may write only to chaos-* sessions.
        let chaosToken = HubProcess.token(role: .client, sub: "chaos", sid: "chaos-1")

        let deadline = Date(timeIntervalSinceNow: seconds)
        var rng = Random(state: seed)
        var connections = 0
        while Date() < deadline {
            connections += 1
            if rng.chance(60) {
                guard let socket = try? TestSocket(port: hub.port) else { continue }
                ChaosTests.send(ChaosTests.mutatedHTTP(&rng), to: socket, &rng)
                if rng.chance(50) { _ = try? socket.read(1, deadline: Date(timeIntervalSinceNow: 0.05)) }
                socket.shutdownNow()
            } else {
                guard let client = try? hub.connect("/ws/calls/chaos-1", token: chaosToken) else { continue }
                var stream: [UInt8] = []
                for _ in 0...rng.below(6) { stream += ChaosTests.frame(&rng) }
                ChaosTests.send(stream, to: client.socket, &rng)
                if rng.chance(30) { client.socket.shutdownNow() }
            }
        }
        #expect(connections > 20)
        #expect(hub.process.isRunning, "seed \(seed): the hub died\n\(hub.log.suffix(2000))")

        // Answers at once: the best of three tries, each under 100 ms.
        let fastest = (0..<3).map { _ -> TimeInterval in
            let start = Date()
            let ok = (try? HTTPClient(port: hub.port).request("GET", "/healthz", timeout: 1).status) == 200
            return ok ? Date().timeIntervalSince(start) : 99
        }.min() ?? 99
        #expect(fastest < 0.1, "seed \(seed): /healthz took \(fastest) s")

        // Idle: slow clients are cut within the (short) timeouts (waited for:
        // no connection left but the one asking), then nothing spins. The
        // 1 s CPU window below is a measurement, not a wait.
        let drained = try HubProcess.waitUntil(timeout: 15, every: 0.1) {
            try hub.metric("switchboard_http_connections") <= 1 && hub.metric("switchboard_connections") == 0
        }
        #expect(drained, "seed \(seed): connections left after the chaos: http \((try? hub.metric("switchboard_http_connections")) ?? -1) ws \((try? hub.metric("switchboard_connections")) ?? -1)")
        let cpu = EdgeTests.cpuSeconds(hub.process.processIdentifier)
        usleep(1_000_000)
        let used = EdgeTests.cpuSeconds(hub.process.processIdentifier) - cpu
        #expect(used < 0.3, "seed \(seed): \(used) s of CPU in 1 s after the chaos")

        let after = try (1...3).map { try hub.http.get("/api/calls/keep-\($0)").text }
        #expect(after == before, "seed \(seed): a document changed")
    }
}
