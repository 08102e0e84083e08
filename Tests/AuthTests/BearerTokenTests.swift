import Auth
import Testing

@Suite struct BearerTokenExtraction {
    @Test func headerWinsOverQuery() {
        #expect(BearerToken.extract(authorization: "Bearer h.h.h", query: ["token": "q.q.q"]) == "h.h.h")
    }

    @Test func queryIsUsedWithoutHeader() {
        #expect(BearerToken.extract(authorization: nil, query: ["token": "q.q.q"]) == "q.q.q")
    }

    @Test func schemeIsCaseInsensitiveAndWhitespaceTolerated() {
        #expect(BearerToken.extract(authorization: "bearer   h.h.h  ", query: [:]) == "h.h.h")
        #expect(BearerToken.extract(authorization: "BEARER\th.h.h", query: [:]) == "h.h.h")
    }

    @Test func nonBearerOrEmptyHeaderFallsBackToQuery() {
        #expect(BearerToken.extract(authorization: "Basic dXNlcjpwYXNz", query: ["token": "q.q.q"]) == "q.q.q")
        #expect(BearerToken.extract(authorization: "Bearer ", query: ["token": "q.q.q"]) == "q.q.q")
        #expect(BearerToken.extract(authorization: "Bearerh.h.h", query: ["token": "q.q.q"]) == "q.q.q")
        #expect(BearerToken.extract(authorization: "Bearer a b", query: [:]) == nil)
    }

    @Test func subprotocolBearerEntryIsUsedBeforeTheQuery() {
        let offered = "switchboard.v1, bearer.s.s.s"
        #expect(BearerToken.extract(authorization: nil, subprotocols: offered, query: ["token": "q.q.q"]) == "s.s.s")
        #expect(BearerToken.extract(authorization: "Bearer h.h.h", subprotocols: offered, query: [:]) == "h.h.h")
        #expect(BearerToken.extract(authorization: nil, subprotocols: "bearer.a.b.c,switchboard.v1", query: [:]) == "a.b.c")
    }

    @Test func subprotocolListsWithoutATokenFallBackToTheQuery() {
        #expect(BearerToken.extract(authorization: nil, subprotocols: "switchboard.v1", query: ["token": "q.q.q"]) == "q.q.q")
        #expect(BearerToken.extract(authorization: nil, subprotocols: "switchboard.v1, bearer.", query: [:]) == nil)
        #expect(BearerToken.extract(authorization: nil, subprotocols: "Bearer.x.y.z", query: [:]) == nil)
    }

    @Test func theTokenEntryIsLeftOutOfWhatOthersSee() {
        #expect(BearerToken.subprotocolsWithoutToken("switchboard.v1, bearer.s.s.s") == ["switchboard.v1"])
        #expect(BearerToken.subprotocolsWithoutToken(" bearer.s.s.s ,chat,, switchboard.v1 ") == ["chat", "switchboard.v1"])
        #expect(BearerToken.subprotocolsWithoutToken("bearer.s.s.s").isEmpty)
    }

    @Test func nothingOrEmptyGivesNil() {
        #expect(BearerToken.extract(authorization: nil, query: [:]) == nil)
        #expect(BearerToken.extract(authorization: nil, query: ["token": ""]) == nil)
        #expect(BearerToken.extract(authorization: "", query: ["other": "x"]) == nil)
    }
}

@Suite struct QueryRedaction {
    @Test func redactsTokenInAQueryString() {
        #expect(Redact.query("a=1&token=abc.def.ghi&b=2") == "a=1&token=REDACTED&b=2")
    }

    @Test func redactsTokenInAFullURL() {
        #expect(Redact.query("https://hub.example/ws/calls/s1?epoch=3&token=abc.def.ghi&since=7")
            == "https://hub.example/ws/calls/s1?epoch=3&token=REDACTED&since=7")
        #expect(Redact.query("/dashboard.html?token=abc.def.ghi") == "/dashboard.html?token=REDACTED")
    }

    @Test func redactsFragmentLogLinesAndTokenLikeNames() {
        #expect(Redact.query("/dashboard.html#token=abc") == "/dashboard.html#token=REDACTED")
        #expect(Redact.query("GET /ws/calls/s1?token=abc HTTP/1.1") == "GET /ws/calls/s1?token=REDACTED HTTP/1.1")
        #expect(Redact.query("access_token=x&Token=y") == "access_token=REDACTED&Token=REDACTED")
    }

    @Test func leavesOtherTextAlone() {
        #expect(Redact.query("a=1&b=2") == "a=1&b=2")
        #expect(Redact.query("tokens=3&mytok=4") == "tokens=3&mytok=4")
        #expect(Redact.query("") == "")
        #expect(Redact.query("token") == "token")
    }
}
