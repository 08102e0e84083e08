import Foundation
import HubTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a raw socket can send, tried as an attacker and a strict client
/// would (issue 19): each test is a reproduction that failed before the hub
/// read HTTP/1.1 itself.
@Suite struct EdgeTests {
    static let webhook = "POST /webhooks/generic/p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    /// The status of every response in `bytes` (bodies here are JSON, which
    /// never holds "HTTP/1.1 " followed by a status and a space).
    static func statuses(_ bytes: [UInt8]) -> [Int] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 ").dropFirst()
            .compactMap { $0.count > 3 && $0.dropFirst(3).first == " " ? Int($0.prefix(3)) : nil }
    }

    /// The hub's CPU seconds so far (user + system), from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// /healthz answered within `within` seconds.
    static func healthy(_ hub: HubProcess, within: TimeInterval = 2) -> Bool {
        (try? HTTPClient(port: hub.port).request("GET", "/healthz", timeout: within).status) == 200
    }

    @Test func pipelinedWebhooksInOneWriteThenACloseLeaveTheHubResponsiveAndIdle() throws {
        let hub = try HubProcess(config: ["providers": ["generic": ["secret": "s3cret"]]])
        for _ in 0..<3 {
            let socket = try TestSocket(port: hub.port)
            try socket.write(String(repeating: EdgeTests.webhook, count: 4))
            usleep(100_000)
            socket.shutdownNow()
        }
        #expect(EdgeTests.healthy(hub))
        // A spinning loop burns a whole core; an idle hub next to nothing.
        let before = EdgeTests.cpuSeconds(hub.process.processIdentifier)
        usleep(1_000_000)
        let used = EdgeTests.cpuSeconds(hub.process.processIdentifier) - before
        #expect(used < 0.3, "hub used \(used) s of CPU in 1 s while idle")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let hub = try HubProcess()
        let token = HubProcess.token(role: .client, sid: "pipe")
        let socket = try TestSocket(port: hub.port)
        let body = #"{"event":"ringing"}"#
        let sync = "POST /api/calls/pipe/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        try socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + sync + "GET /api/calls/pipe HTTP/1.1\r\nHost: x\r\n"
            + "Authorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
        let bytes = try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))
        #expect(EdgeTests.statuses(bytes) == [200, 200, 200])
        let text = String(decoding: bytes, as: UTF8.self)
        // The read after the write sees it: answers keep request order.
        #expect(text.range(of: #""callState":"ringing""#) != nil)
        let health = text.range(of: #"{"status":"ok"}"#)
        let applied = text.range(of: #""applied""#)
        #expect(health != nil && applied != nil && health!.lowerBound < applied!.lowerBound)
    }

    @Test func aRefusedUpgradeIsAnsweredWithAnHTTP11StatusLine() throws {
        let hub = try HubProcess()
        for (path, status) in [("/ws/calls/a", 401), ("/ws/nowhere", 404), ("/ws/calls/a%0djunk", 400)] {
            do {
                _ = try WSClient(port: hub.port, path: path)
                Issue.record("\(path) upgraded")
            } catch let rejected as WSClient.Rejected {
                #expect(rejected.status == status, "\(path)")
            }
        }
        let socket = try TestSocket(port: hub.port)
        try socket.write("GET /ws/calls/a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let head = try socket.read(until: Array("\r\n".utf8), deadline: Date(timeIntervalSinceNow: 5))
        #expect(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 401 "))
    }

    @Test func contentLengthBesideTransferEncodingIsRefusedAndTheHiddenRequestIsNotServed() throws {
        let hub = try HubProcess()
        let socket = try TestSocket(port: hub.port)
        try socket.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let bytes = try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))
        #expect(EdgeTests.statuses(bytes) == [400])
        #expect(String(decoding: bytes, as: UTF8.self).contains("connection: close"))
    }

    @Test(arguments: ["Content-Length: 2\r\nContent-Length: 2", "Content-Length: 2, 2", "Content-Length: -2",
                      "Transfer-Encoding: gzip", "Transfer-Encoding: gzip, chunked"])
    func duplicateOrMalformedLengthsAndUnknownCodingsAre400AndClose(fields: String) throws {
        let hub = try HubProcess()
        let socket = try TestSocket(port: hub.port)
        try socket.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [400])
    }

    @Test func aChunkedBodyIsAccepted() throws {
        let hub = try HubProcess()
        let token = HubProcess.token(role: .client, sid: "chunked")
        let socket = try TestSocket(port: hub.port)
        try socket.write("POST /api/calls/chunked/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "5\r\n{\"eve\r\ne;ext=1\r\nnt\":\"ringing\"}\r\n0\r\n\r\n")
        let bytes = try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))
        #expect(EdgeTests.statuses(bytes) == [200])
        #expect(try hub.http.get("/api/calls/chunked").json["callState"] as? String == "ringing")
    }

    @Test func aChunkedBodyOverTheLimitIs413WhileItIsRead() throws {
        let hub = try HubProcess(config: ["limits": ["maxBodyBytes": 1024]])
        let socket = try TestSocket(port: hub.port)
        var request = "POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<5 { request += "200\r\n" + String(repeating: "a", count: 512) + "\r\n" }
        try socket.write(request)
        #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [413])
    }

    /// A request refused while its body was read is forgotten: a drain does
    /// not wait `shutdown.drainSec` for it.
    @Test func bodiesRefusedMidReadDoNotHoldADrain() throws {
        let hub = try HubProcess(config: ["limits": ["maxBodyBytes": 1024, "bodyTimeoutMs": 300], "shutdown": ["drainSec": 20]])
        let overflow = try TestSocket(port: hub.port)
        try overflow.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "800\r\n" + String(repeating: "a", count: 2048) + "\r\n")
        #expect(EdgeTests.statuses(try overflow.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [413])
        let slow = try TestSocket(port: hub.port)
        try slow.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        #expect(EdgeTests.statuses(try slow.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [408])
        let start = Date()
        #expect(hub.stop(signal: SIGTERM, timeout: 15) == 0)
        #expect(Date().timeIntervalSince(start) < 5, "the drain waited for requests nobody will answer")
    }

    @Test func expectContinueGetsA100BeforeTheBody() throws {
        let hub = try HubProcess()
        let token = HubProcess.token(role: .client, sid: "cont")
        let socket = try TestSocket(port: hub.port)
        try socket.write("POST /api/calls/cont/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 19\r\nConnection: close\r\n\r\n")
        let interim = try socket.read(until: Array("\r\n\r\n".utf8), deadline: Date(timeIntervalSinceNow: 5))
        #expect(String(decoding: interim, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
        try socket.write("{\"event\":\"ringing\"}")
        #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [200])
    }

    @Test(arguments: ["/api/calls/a%0djunk", "/api/calls/a%0ajunk", "/api/calls/a%00", "/api/calls/a%20b"])
    func sessionIdsAreValidatedAfterDecodingNeverTruncated(path: String) throws {
        let hub = try HubProcess()
        _ = try hub.http.postJSON("/api/calls/a/events", #"{"id":"e1","state":{"callState":"ringing"}}"#)
        let response = try hub.http.get(path)
        #expect(response.status == 400, "\(path)")
        #expect(response.text.contains("callState") == false)
    }

    @Test func aSlowHeaderClientIsCutAt408AndNeverDelaysOthers() throws {
        let hub = try HubProcess(config: ["limits": ["headerTimeoutMs": 1000]])
        var slow: [TestSocket] = []
        for _ in 0..<50 {
            let socket = try TestSocket(port: hub.port)
            try socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(socket)
        }
        for round in 0..<3 {
            for socket in slow { try? socket.write("a") }
            #expect(EdgeTests.healthy(hub, within: 0.5), "round \(round)")
            usleep(200_000)
        }
        // Past limits.headerTimeoutMs the slow ones get 408 and the connection ends.
        let bytes = try slow[0].readToEnd(deadline: Date(timeIntervalSinceNow: 5))
        #expect(EdgeTests.statuses(bytes) == [408])
    }

    @Test func bytesNoRequestLineStartsWithAre400AtOnceNotAfterTheHeaderTimeout() throws {
        // A TLS hello sent to the plain port, and a request line broken by a bare CR.
        let hub = try HubProcess(config: ["limits": ["headerTimeoutMs": 30_000]])
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03] + Array(repeating: 0x42, count: 64)
        for bytes in [hello, Array("GET /healthz HTTP/1.1\rHost: x\r\r".utf8)] {
            let socket = try TestSocket(port: hub.port)
            try socket.write(bytes)
            let started = Date()
            #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 10))) == [400])
            #expect(Date().timeIntervalSince(started) < 10, "answered only after \(Date().timeIntervalSince(started)) s")
        }
    }

    @Test func aPeerThatHalfClosesBeforeADeferredAnswerGetsItThenTheConnectionEnds() throws {
        // The answer waits for the journal's commit; the client has already
        // sent its end of stream. It reads the answer, then the hub closes.
        let hub = try HubProcess(config: ["store": ["kind": "sqlite"]])
        let token = HubProcess.token(role: .client, sid: "half")
        let body = #"{"event":"ringing"}"#
        for _ in 0..<5 {
            let socket = try TestSocket(port: hub.port)
            try socket.write("POST /api/calls/half/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            socket.shutdownWrite()
            #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [200])
        }
        let closed = try HubProcess.waitUntil(timeout: 5, every: 0.1) { try hub.metric("switchboard_http_connections") <= 1 }
        #expect(closed, "connections left: \((try? hub.metric("switchboard_http_connections")) ?? -1)")
    }

    @Test func aBodyThatNeverArrivesIsCutAt408() throws {
        let hub = try HubProcess(config: ["limits": ["bodyTimeoutMs": 500]])
        let socket = try TestSocket(port: hub.port)
        try socket.write("POST /api/calls/x/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [408])
    }

    @Test func aHeadOverLimitsMaxHeaderBytesIs431() throws {
        let hub = try HubProcess(config: ["limits": ["maxHeaderBytes": 2048]])
        let socket = try TestSocket(port: hub.port)
        try socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 3000) + "\r\n\r\n")
        #expect(EdgeTests.statuses(try socket.readToEnd(deadline: Date(timeIntervalSinceNow: 5))) == [431])
    }

    /// A peer that keeps sending while the hub closes it still reads the close
    /// code, and every message applied before the cut was acknowledged first.
    @Test func aFloodingClientReadsItsAcksThen4029() throws {
        let hub = try HubProcess(config: ["limits": ["messagesPerSecond": 50]])
        let client = try hub.connect("/ws/calls/flood")
        _ = try client.nextJSON()
        let reports = (1...120).map { #"{"type":"report","id":"r\#($0)","ts":\#(1000 + $0),"state":{"metadata":{"n":\#($0)}}}"# }
        try client.sendTogether(reports)
        // ...and keeps sending after the limit was passed.
        for i in 0..<50 { try? client.send(#"{"type":"ping","id":"late\#(i)"}"#) }
        var acks = 0
        var code: Int?
        while code == nil {
            switch try client.next(timeout: 5) {
            case .text(let text): if text.contains(#""type":"ack""#) { acks += 1 }
            case .close(let c, _): code = c
            }
        }
        #expect(code == 4029)
        let version = try hub.http.get("/api/calls/flood").json["version"] as? Int
        #expect(acks > 0)
        #expect(acks == version, "every applied report was acknowledged before the close frame")
    }

    @Test func aClientPastItsErrorBudgetReads4400WhileStillSending() throws {
        let hub = try HubProcess(config: ["limits": ["maxErrorsPerMinute": 5, "messagesPerSecond": 100_000]])
        let client = try hub.connect("/ws/calls/abuse")
        _ = try client.nextJSON()
        try client.sendTogether((0..<40).map { _ in "not json" })
        for _ in 0..<40 { try? client.send("still not json") }
        #expect(try client.closeCode() == 4400)
    }

    @Test func aSlowConsumerThatKeepsSendingReads4008() throws {
        let hub = try HubProcess(config: ["limits": ["sendQueueBytes": 16 * 1024, "messagesPerSecond": 100_000,
                                                          "maxMetadataValueBytes": 1 << 20, "maxDocumentBytes": 16 << 20]])
        let client = try hub.connect("/ws/calls/slow", receiveBuffer: 4096)
        _ = try client.nextJSON()
        // Every report's frame comes back to the sender, which does not read.
        let pad = String(repeating: "p", count: 8000)
        for i in 1...300 { try? client.send(#"{"type":"report","ts":\#(1000 + i),"state":{"metadata":{"pad":"\#(pad)\#(i)"}}}"#) }
        #expect(try client.closeCode(timeout: 15) == 4008)
    }
}
