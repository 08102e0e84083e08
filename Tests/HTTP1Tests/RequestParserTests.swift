import HTTP1
import Testing

/// Everything one parser reads from `text`, fed in pieces of `step` bytes.
private struct Parsed {
    var heads: [RequestHead] = []
    var bodies: [[UInt8]] = []
    var error: HTTPParseError?
}

/// Feeds `text` to one parser `step` bytes at a time, as a socket would.
private func parse(_ text: String, step: Int = Int.max, limits: RequestParser.Limits = .init()) -> Parsed {
    let bytes = Array(text.utf8)
    var parser = RequestParser(limits: limits)
    var out = Parsed()
    var buffer: [UInt8] = []
    var fed = 0
    var body: [UInt8] = []
    while true {
        let result = buffer.withUnsafeBytes { parser.next($0) }
        switch result.event {
        case .needMore:
            buffer.removeFirst(result.consumed)
            if fed == bytes.count { return out }
            let take = min(bytes.count - fed, step)
            buffer += bytes[fed..<(fed + take)]
            fed += take
        case .head(let head):
            buffer.removeFirst(result.consumed)
            out.heads.append(head)
            if head.framing == .none || head.framing == .length(0) { out.bodies.append([]) }
        case .body(let range):
            body += buffer[range]
            buffer.removeFirst(result.consumed)
        case .end:
            buffer.removeFirst(result.consumed)
            out.bodies.append(body)
            body = []
        case .failed(let error):
            out.error = error
            return out
        }
    }
}

private func parse(pieces text: String, of size: Int) -> Parsed { parse(text, step: size) }

@Suite struct RequestParserTests {
    @Test func pipelinedRequestsAreReadInOrder() {
        let one = "POST /webhooks/generic/p HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        let got = parse(one + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + one)
        #expect(got.error == nil)
        #expect(got.heads.map(\.method) == ["POST", "GET", "POST"])
        #expect(got.bodies == [Array("{}".utf8), [], Array("{}".utf8)])
    }

    @Test func aRequestArrivingOneByteAtATimeReadsTheSame() {
        let text = "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
        let whole = parse(text)
        let bytewise = parse(pieces: text, of: 1)
        #expect(whole.error == nil && bytewise.error == nil)
        #expect(whole.bodies == [Array("abcde".utf8)])
        #expect(bytewise.bodies == whole.bodies)
        #expect(bytewise.heads.first?.rawQuery == "x=1")
    }

    @Test func contentLengthBesideTransferEncodingIsRefused() {
        let got = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(got.error?.status == 400)
        #expect(got.heads.isEmpty)
    }

    @Test func repeatedOrMalformedLengthsAndUnknownCodingsAreRefused() {
        for fields in ["Content-Length: 2\r\nContent-Length: 2", "Content-Length: 2, 2", "Content-Length: +2",
                       "Content-Length: 0x2", "Content-Length: 99999999999999999999", "Transfer-Encoding: gzip",
                       "Transfer-Encoding: chunked, gzip", "Transfer-Encoding: gzip, chunked",
                       "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"] {
            let got = parse("POST / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n\r\n")
            #expect(got.error?.status == 400, "\(fields)")
        }
    }

    @Test func controlBytesInThePathAfterDecodingAreRefused() {
        for target in ["/api/calls/a%0djunk", "/api/calls/a%0ajunk", "/api/calls/a%00", "/a%7f", "/a%zz", "/a%c3%28"] {
            let got = parse("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(got.error?.status == 400, "\(target)")
        }
        #expect(parse("GET /a%2Eb%20c HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.path == "/a.b c")
    }

    @Test func foldedLinesSpacesBeforeColonsAndBareCRAreRefused() {
        for head in ["GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: x\r\nA: \u{1}\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "GET /#f HTTP/1.1\r\nHost: x\r\n\r\n"] {
            #expect(parse(head).error?.status == 400, "\(head.debugDescription)")
        }
    }

    @Test func aRequestLineNoRequestCanHaveIsRefusedBeforeTheHeadEnds() {
        // A TLS hello, a binary protocol, a bare CR in the request line, a
        // target with a control byte, an overlong version: 400 with the head
        // still open, so the connection is not held until the header timeout.
        let openHeads = ["\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}", "GET /healthz HTTP/1.1\rHost: x\r\r", " GET / HTTP/1.1",
                         "GET /a\u{1}b HTTP/1.1", "GET / HTTP/1.1xxxxxx", "G@T / HTTP/1.1"]
        for head in openHeads {
            #expect(parse(head).error?.status == 400, "\(head.debugDescription)")
            #expect(parse(pieces: head, of: 1).error?.status == 400, "\(head.debugDescription)")
        }
        // Undecided: a lone CR may begin an empty line; a valid prefix waits.
        for head in ["\r", "GET /healthz HTT", "GET / HTTP/1.1\r"] {
            #expect(parse(head).error == nil, "\(head.debugDescription)")
        }
        // The request line's verdict comes before the field count's, as it would early.
        let many = "G@T / HTTP/1.1\r\nHost: x\r\n" + (0..<120).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
        #expect(parse(many).error?.status == 400)
        #expect(parse("GET / HTTP/1 1\r\nHost: x\r\n\r\n").error?.status == 505)
    }

    @Test func otherHTTPVersionsAre505() {
        #expect(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n").error?.status == 505)
        #expect(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").error?.status != nil)
    }

    @Test func headsOverTheLimitAre431() {
        let long = "GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        #expect(parse(long).error?.status == 431)
        #expect(parse(pieces: long, of: 100).error?.status == 431)
        let many = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<120).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
        #expect(parse(many).error?.status == 431)
    }

    @Test func chunkSizesThatOverflowOrAreMalformedAreRefused() {
        for chunk in ["fffffffffffffffff\r\n", "zz\r\n", "\r\n", "5\r\nabcdeXX0\r\n\r\n"] {
            let got = parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
            #expect(got.error?.status == 400, "\(chunk.debugDescription)")
        }
    }

    @Test func connectionSemanticsFollowTheVersion() {
        let got = parse("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(got.heads.map(\.keepAlive) == [false, true, false])
    }

    @Test func webSocketHandshakesAreRecognised() {
        let got = parse("GET /ws/calls/a?token=t HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(got.heads.first?.isWebSocketUpgrade == true)
        #expect(got.heads.first?.queryItems.first?.1 == "t")
    }

    @Test func absoluteFormTargetsKeepOnlyPathAndQuery() {
        let got = parse("GET http://example.com:8080/healthz?a=b HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(got.heads.first?.path == "/healthz")
        #expect(got.heads.first?.rawQuery == "a=b")
    }

    @Test func leadingEmptyLinesBeforeARequestAreIgnored() {
        let got = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(got.error == nil && got.heads.count == 1)
    }
}
