import CallState
import JSONCodec
import Store
import Testing

@Suite("InputCodec")
struct InputCodecTests {
    @Test func everyFieldRoundTrips() throws {
        var updates: [Update] = []
        for (index, field) in Field.scalarFields.enumerated() {
            updates.append(Update(field: field, value: .string("v\(index)"), ts: 1_700_000_000_000 + Int64(index),
                                  source: "twilio", sourceKind: .provider, seq: Int64(index), eventId: "e\(index)"))
        }
        updates.append(Update(field: .recordingActive, value: .bool(true), ts: 1, source: "twilio", sourceKind: .provider))
        updates.append(Update(field: .recordingDuration, value: .int(42), ts: 2, source: "twilio", sourceKind: .provider))
        let input = Input(kind: "twilio.status", source: "twilio", sourceKind: .provider, eventId: "CA1:3:ringing",
                          receivedAt: 1_700_000_000_123, updates: updates)
        #expect(try InputCodec.decode(InputCodec.encode(input)) == input)
    }

    @Test func metadataValuesOfEveryShapeRoundTrip() throws {
        let values: [JSONValue] = [
            .string("ann"), .int(-7), .int(Int64.max), .int(Int64.min), .double(0.1), .double(100.0),
            .double(1e-300), .double(-2.5e20), .bool(false), .null,
            .array([.int(1), .string("x"), .array([])]),
            .object(["nested": .object(["k": .double(4.3)]), "empty": .object([:])]),
            .string("quote \" backslash \\ newline \n tab \t emoji 📞 é"),
        ]
        let updates = values.enumerated().map { index, value in
            Update(field: .metadata("k\(index)"), value: value, ts: Int64(index), source: "backend", sourceKind: .backend)
        }
        let input = Input(kind: "backend.event", source: "backend", sourceKind: .backend, receivedAt: 5, updates: updates)
        #expect(try InputCodec.decode(InputCodec.encode(input)) == input)
    }

    @Test func nilEventIdsAndEmptyListsRoundTrip() throws {
        let input = Input(kind: "client.report", source: "client:bob", sourceKind: .client, eventId: nil, receivedAt: 0)
        let decoded = try InputCodec.decode(InputCodec.encode(input))
        #expect(decoded == input)
        #expect(decoded.eventId == nil)
        let update = Update(field: .callState, value: .string("connected"), ts: 3, source: "client:bob", sourceKind: .client)
        let withUpdate = Input(kind: "client.report", source: "client:bob", sourceKind: .client, receivedAt: 3, updates: [update])
        #expect(try InputCodec.decode(InputCodec.encode(withUpdate)).updates.first?.eventId == nil)
    }

    @Test func qualitySamplesRoundTripWithMissingMetrics() throws {
        let samples = [
            QualitySample(ts: 10, latency: 40.5, rtt: 81, jitter: 3.25, packetLoss: 0.5, mos: 4.2, source: "client:ann"),
            QualitySample(ts: 11, rtt: 120, source: "agora"),
            QualitySample(ts: 12, source: "twilio"),
        ]
        let input = Input(kind: "client.quality", source: "client:ann", sourceKind: .client, eventId: "q1",
                          receivedAt: 12, quality: samples)
        #expect(try InputCodec.decode(InputCodec.encode(input)) == input)
    }

    @Test func nonFiniteQualityNumbersSurvive() throws {
        let input = Input(kind: "q", source: "s", sourceKind: .client, receivedAt: 1,
                          quality: [QualitySample(ts: 1, latency: .infinity, rtt: -.infinity, jitter: .nan, source: "s")])
        let sample = try #require(try InputCodec.decode(InputCodec.encode(input)).quality.first)
        #expect(sample.latency == .infinity)
        #expect(sample.rtt == -.infinity)
        #expect(sample.jitter?.isNaN == true)
    }

    /// jansson refuses `\u0000` when decoding; a `%00` in a form-encoded webhook must not poison the journal.
    @Test func stringsWithNULAndTheEscapeCharacterRoundTrip() throws {
        let tricky = ["a\u{0}b", "\u{1}", "\u{1}0", "\u{0}", "x\u{1}1\u{0}\u{1}"]
        let updates = tricky.map { text in
            Update(field: .metadata(text), value: .object([text: .string(text)]), ts: 1, source: text,
                   sourceKind: .client, eventId: text)
        }
        let input = Input(kind: "k\u{0}", source: "s\u{1}", sourceKind: .client, eventId: "\u{0}", receivedAt: 1, updates: updates)
        #expect(try InputCodec.decode(InputCodec.encode(input)) == input)
    }

    @Test func emptyMetadataKeyRoundTrips() throws {
        let update = Update(field: .metadata(""), value: .string("x"), ts: 1, source: "b", sourceKind: .backend)
        let input = Input(kind: "k", source: "b", sourceKind: .backend, receivedAt: 1, updates: [update])
        #expect(try InputCodec.decode(InputCodec.encode(input)) == input)
    }

    @Test func garbageAndUnknownVersionsAreRejected() {
        #expect(throws: StoreError.self) { try InputCodec.decode(Array("not json".utf8)) }
        #expect(throws: StoreError.self) { try InputCodec.decode(Array("{\"v\":99}".utf8)) }
        #expect(throws: StoreError.self) { try InputCodec.decode(Array("{\"v\":1,\"kind\":1}".utf8)) }
        #expect(throws: StoreError.self) {
            try InputCodec.decode(Array(#"{"v":1,"kind":"k","src":"s","sk":"alien","at":1,"u":[]}"#.utf8))
        }
    }
}

@Suite("InputCodec bytes")
struct InputCodecBytesTests {
    /// The fast writer must produce exactly the canonical JSONCodec bytes of the tree.
    @Test func directEncodingEqualsTheCanonicalTreeEncoding() {
        var inputs = (0..<6).map { Fixtures.input($0) }
        inputs.append(Input(kind: "k\u{0}", source: "s\"\\", sourceKind: .backend, eventId: nil, receivedAt: -1,
                            updates: [Update(field: .metadata(""), value: .object(["b": .int(1), "a": .array([.null])]),
                                             ts: 0, source: "\u{1}", sourceKind: .backend)],
                            quality: [QualitySample(ts: 1, latency: .nan, rtt: 2, mos: 4.5, source: "x"),
                                      QualitySample(ts: 2, source: "y")]))
        for input in inputs {
            #expect(InputCodec.encode(input) == JSONCodec.encode(InputCodec.jsonValue(input)))
        }
    }
}
