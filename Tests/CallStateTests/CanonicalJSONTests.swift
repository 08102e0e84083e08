import Testing
@testable import CallState

@Suite("Canonical JSON")
struct CanonicalJSONTests {
    @Test("Keys are sorted by bytes whatever the insertion order; no whitespace")
    func sortedKeys() {
        var a: [String: JSONValue] = [:]
        var b: [String: JSONValue] = [:]
        let keys = ["b", "a", "B", "é", "aa", "_", "10", "9"]
        for k in keys { a[k] = .int(1) }
        for k in keys.reversed() { b[k] = .int(1) }
        #expect(JSONValue.object(a).canonicalText == JSONValue.object(b).canonicalText)
        #expect(JSONValue.object(a).canonicalText == #"{"10":1,"9":1,"B":1,"_":1,"a":1,"aa":1,"b":1,"é":1}"#)
    }

    @Test("Numbers: ints as ints, integral doubles as ints, others shortest round-trip, non-finite as null")
    func numbers() {
        #expect(JSONValue.int(-42).canonicalText == "-42")
        #expect(JSONValue.double(2.0).canonicalText == "2")
        #expect(JSONValue.double(-0.0).canonicalText == "0")
        #expect(JSONValue.double(0.1).canonicalText == "0.1")
        #expect(JSONValue.double(4.394).canonicalText == "4.394")
        #expect(JSONValue.double(1e-5).canonicalText == "1e-05")
        #expect(JSONValue.double(1e20).canonicalText == "1e+20")
        #expect(JSONValue.double(.nan).canonicalText == "null")
        #expect(JSONValue.double(.infinity).canonicalText == "null")
    }

    @Test("Strings are escaped per RFC 8259; non-ASCII stays raw")
    func strings() {
        #expect(JSONValue.string("a\"b\\c\n\t\r\u{8}\u{c}\u{1}/é😀").canonicalText
            == "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001/é😀\"")
    }

    @Test("Equal documents encode to equal bytes; whatever the update order inside an input")
    func equalDocumentsEqualBytes() {
        var one = CallSession(sessionId: "s", epoch: "E")
        var two = CallSession(sessionId: "s", epoch: "E")
        let updates = [
            update(.metadata("z"), .double(3.25), ts: t0),
            update(.metadata("a"), .string("x"), ts: t0),
            update(.callState, .string("ringing"), ts: t0),
        ]
        _ = one.apply(input(updates), now: t0)
        _ = two.apply(input(updates.reversed()), now: t0)
        #expect(one.document == two.document)
        #expect(one.document.json.canonicalText == two.document.json.canonicalText)
        #expect(one.document.json.canonicalText.hasPrefix(#"{"answeredAt":null,"callId":null,"#))
    }
}
