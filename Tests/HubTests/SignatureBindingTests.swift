import Crypto
import Foundation
import HubTestSupport
import Testing

/// Generic / Asterisk signatures are bound to the target they were made for
/// (PROTOCOL.md §6 v1.1, issue 19 item 9): a `v1` signature is remembered
/// and refused on another path; `v2` signs the path itself.
@Suite struct SignatureBindingTests {
    static let secret = WebhookRouteTests.secret

    static func v1(_ body: String, at t: Int = Int(Date().timeIntervalSince1970)) -> [String: String] {
        ["X-Switchboard-Signature": WebhookRouteTests.switchboardSignature(body, at: t)]
    }

    /// `v2`: HMAC-SHA256 of `"<t>.<target>.<body>"`, computed here from the
    /// published scheme.
    static func v2(_ body: String, target: String, at t: Int = Int(Date().timeIntervalSince1970)) -> [String: String] {
        let mac = Crypto.hmacSHA256(key: Array(secret.utf8), message: Array("\(t).\(target).\(body)".utf8))
        return ["X-Switchboard-Signature": "t=\(t),v2=\(Crypto.hex(mac))"]
    }

    @Test func aSignedGenericBodyReplayedToAnotherSessionIs401AndAppliesNothing() throws {
        let hub = try WebhookRouteTests.startHub()
        let body = #"{"id":"evt-bind-1","state":"connected","metadata":{"agent":"ana"}}"#
        let headers = Self.v1(body)
        #expect(try hub.http.postJSON("/webhooks/generic/origin", body, headers: headers).status == 200)
        let replay = try hub.http.postJSON("/webhooks/generic/victim", body, headers: headers)
        #expect(replay.status == 401)
        #expect((replay.json["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        #expect(try hub.http.get("/api/calls/victim").status == 404, "nothing applied to the victim")
    }

    @Test func aRetryToTheSamePathIsADuplicateNotAnError() throws {
        let hub = try WebhookRouteTests.startHub()
        let body = #"{"id":"evt-bind-2","state":"ringing","metadata":{"agent":"bo"}}"#
        let headers = Self.v1(body)
        #expect(try hub.http.postJSON("/webhooks/generic/retry-me", body, headers: headers).status == 200)
        let before = try hub.http.get("/api/calls/retry-me").json
        let retry = try hub.http.postJSON("/webhooks/generic/retry-me", body, headers: headers)
        #expect(retry.status == 200)
        let after = try hub.http.get("/api/calls/retry-me").json
        #expect(after["version"] as? Int == before["version"] as? Int, "the retry applied nothing new")
        let timeline = try hub.http.get("/api/calls/retry-me/timeline").json["entries"] as? [[String: Any]] ?? []
        #expect(timeline.count == 2)
        #expect(timeline.last.map { "\($0)".contains("duplicate") } == true, "the retry is recorded as a duplicate")
    }

    @Test func aV2SignatureIsAcceptedAndBindsThePath() throws {
        let hub = try WebhookRouteTests.startHub()
        let body = #"{"id":"evt-v2","state":"connected"}"#
        let headers = Self.v2(body, target: "/webhooks/generic/v2-origin")
        #expect(try hub.http.postJSON("/webhooks/generic/v2-origin", body, headers: headers).status == 200)
        #expect(try hub.http.get("/api/calls/v2-origin").json["callState"] as? String == "connected")
        #expect(try hub.http.postJSON("/webhooks/generic/v2-victim", body, headers: headers).status == 401)
        #expect(try hub.http.get("/api/calls/v2-victim").status == 404)
        // a v2 over another path, and a malformed one, do not verify either
        let wrong = Self.v2(#"{"id":"evt-v2b"}"#, target: "/webhooks/generic/elsewhere")
        #expect(try hub.http.postJSON("/webhooks/generic/v2-origin", #"{"id":"evt-v2b"}"#, headers: wrong).status == 401)
    }

    @Test func anAsteriskEventIsBoundToItsSessionQuery() throws {
        let hub = try WebhookRouteTests.startHub()
        let body = #"{"type":"ChannelStateChange","timestamp":"2026-11-20T10:00:00.000+0000","channel":{"id":"ch-bind","state":"Up"}}"#
        let headers = Self.v1(body)
        #expect(try hub.http.postJSON("/webhooks/asterisk?session=ast-origin", body, headers: headers).status == 200)
        #expect(try hub.http.postJSON("/webhooks/asterisk?session=ast-victim", body, headers: headers).status == 401)
        #expect(try hub.http.get("/api/calls/ast-victim").status == 404)
        // v2 covers the query: accepted on its own target only
        let body2 = body.replacingOccurrences(of: "ch-bind", with: "ch-bind-2")
        let signed = Self.v2(body2, target: "/webhooks/asterisk?session=ast-two")
        #expect(try hub.http.postJSON("/webhooks/asterisk?session=ast-two", body2, headers: signed).status == 200)
        #expect(try hub.http.postJSON("/webhooks/asterisk?session=ast-three", body2, headers: signed).status == 401)
    }

    @Test func aFullSignatureMemoryRefusesNewV1SignaturesButNotV2() throws {
        let hub = try WebhookRouteTests.startHub(["limits": ["maxRememberedSignatures": 2]])
        for n in 1...2 {
            let body = #"{"id":"evt-full-\#(n)"}"#
            #expect(try hub.http.postJSON("/webhooks/generic/full", body, headers: Self.v1(body)).status == 200)
        }
        let third = #"{"id":"evt-full-3"}"#
        let refused = try hub.http.postJSON("/webhooks/generic/full", third, headers: Self.v1(third))
        #expect(refused.status == 503)
        #expect(refused.headers["retry-after"].flatMap(Int.init).map { $0 >= 1 } == true)
        #expect(try hub.http.postJSON("/webhooks/generic/full", third,
                                      headers: Self.v2(third, target: "/webhooks/generic/full")).status == 200)
    }
}
