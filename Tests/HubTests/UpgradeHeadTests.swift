@testable import Transport
import Testing

/// The head libwebsockets gets for an admitted upgrade: the `bearer.` entry
/// of `Sec-WebSocket-Protocol` is gone, everything else byte for byte.
@Suite struct UpgradeHeadTests {
    static func rewrite(_ text: String) -> String {
        String(decoding: UpgradeHead.withoutBearerSubprotocol(Array(text.utf8)), as: UTF8.self)
    }

    @Test func theBearerEntryLeavesAndTheRestStays() {
        let head = "GET /ws/calls/a HTTP/1.1\r\nHost: h\r\nsec-websocket-protocol: switchboard.v1, bearer.x.y.z\r\nUpgrade: websocket\r\n\r\n"
        #expect(Self.rewrite(head)
            == "GET /ws/calls/a HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Protocol: switchboard.v1\r\nUpgrade: websocket\r\n\r\n")
    }

    @Test func aLineWithOnlyTheTokenIsDroppedAndBytesAfterTheHeadAreKept() {
        let head = "\r\nGET / HTTP/1.1\nSec-WebSocket-Protocol: bearer.t\nSec-WebSocket-Protocol: switchboard.v1\n\n\u{81}\u{85}bearer.q"
        #expect(Self.rewrite(head) == "\r\nGET / HTTP/1.1\nSec-WebSocket-Protocol: switchboard.v1\n\n\u{81}\u{85}bearer.q")
    }

    @Test func headsWithoutATokenAreUntouched() {
        for head in ["GET / HTTP/1.1\r\nSec-WebSocket-Protocol: switchboard.v1, chat\r\n\r\n",
                     "GET /?token=a.b.c HTTP/1.1\r\nAuthorization: Bearer a.b.c\r\n\r\n", "GET / HTTP/1.1\r\n"] {
            #expect(Self.rewrite(head) == head)
        }
    }
}
