import CallState
import JSONCodec
import Testing

@Suite struct JSONCodecBehaviour {
    @Test func parsesNestedValuesWithIntsAndDoublesApart() throws {
        let value = try JSONCodec.parse(Array(#"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"d"},"n":9007199254740993}"#.utf8))
        #expect(value == .object([
            "a": .array([.int(1), .double(2.5), .double(-300), .bool(true), .bool(false), .null]),
            "b": .object(["c": .string("d")]),
            "n": .int(9_007_199_254_740_993),
        ]))
        #expect(try JSONCodec.parse("42") == .int(42))
        #expect(try JSONCodec.parse(#""x""#) == .string("x"))
    }

    @Test func decodesEscapesAndUnicode() throws {
        #expect(try JSONCodec.parse(#"["\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é"]"#)
            == .array([.string("\"\\/\u{8}\u{C}\n\r\té😀é")]))
    }

    @Test func rejectsInvalidJSONNulAndBadUTF8() {
        #expect(throws: JSONCodecError.self) { try JSONCodec.parse("{\"a\":") }
        #expect(throws: JSONCodecError.self) { try JSONCodec.parse("{} trailing") }
        #expect(throws: JSONCodecError.self) { try JSONCodec.parse(#"["\u0000"]"#) }
        #expect(throws: JSONCodecError.self) { try JSONCodec.parse([0x22, 0xff, 0x22]) }
        #expect(throws: JSONCodecError.self) { try JSONCodec.parse([UInt8]()) }
    }

    @Test func objectKeysSortByTheirUTF8BytesWhateverTheirLength() {
        // Prefixes, empty, non-ASCII (é is 0xC3 0xA9, above every ASCII byte),
        // and longer than 15 bytes (heap strings, not small ones).
        let keys = ["b", "", "a", "ab", "aB", "é", "e", "zz", "a-very-long-key-past-fifteen-bytes",
                    "a-very-long-key-past-fifteen-bytez", "Z", "~"]
        let object = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.map { ($0, JSONValue.int(1)) }))
        let expected = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let text = JSONCodec.encodeString(object)
        #expect(text == "{" + expected.map { "\"\($0)\":1" }.joined(separator: ",") + "}")
        for a in keys {
            for b in keys {
                #expect(a.precedesByUTF8(b) == a.utf8.lexicographicallyPrecedes(b.utf8), "\(a) < \(b)")
            }
        }
    }

    @Test func stringsNeedingNoEscapeAndStringsNeedingOneEncodeTheSameAsByteByByte() {
        #expect(JSONCodec.encodeString(.string("plain ascii and é")) == "\"plain ascii and é\"")
        #expect(JSONCodec.encodeString(.string("tab\there \"q\" \\ \u{7F}")) == #""tab\there \"q\" \\ \u007f""#)
    }

    @Test func encodesCompactSortedAndEscaped() {
        let value: JSONValue = .object(["b": .array([.int(1), .double(0.1), .null]), "a": .string("q\"\\\n\u{1}é😀"), "c": .bool(true)])
        #expect(JSONCodec.encodeString(value) == #"{"a":"q\"\\\n\u0001é😀","b":[1,0.1,null],"c":true}"#)
        #expect(JSONCodec.encodeString(.double(4.3)) == "4.3")
        #expect(JSONCodec.encodeString(.double(.nan)) == "null")
        #expect(JSONCodec.encodeString(.object([:])) == "{}")
    }

    @Test func encodeThenParseRoundTrips() throws {
        let value: JSONValue = .object([
            "nested": .object(["deep": .array([.object(["x": .double(1e-7)]), .array([])])]),
            "unicode": .string("日本語\u{7f}\t"), "big": .int(Int64.max), "neg": .double(-1.5e300),
        ])
        #expect(try JSONCodec.parse(JSONCodec.encode(value)) == value)
    }

    @Test func longStringsCanBeElidedWhileParsing() throws {
        let value = try JSONCodec.parse(Array(#"{"small":"ok","big":"0123456789"}"#.utf8), maxStringBytes: 5)
        #expect(value == .object(["small": .string("ok"), "big": .null]))
    }
}
