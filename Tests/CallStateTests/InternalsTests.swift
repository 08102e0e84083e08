import Testing
@testable import CallState

@Suite("Engine internals: idempotency table, packed results, ring")
struct InternalsTests {
    @Test("DedupeMemory behaves like a FIFO-bounded set (checked against a model, many evictions)")
    func dedupeMatchesModel() {
        var rng = SplitMix64(seed: 0xDEDE)
        for capacity in [1, 2, 3, 7, 16, 100] {
            var memory = DedupeMemory(capacity: capacity)
            var model: [DedupeMemory.Key] = []
            for _ in 0..<5000 {
                // A small id space, so re-deliveries, evictions and probe-run
                // deletions all happen often.
                let key = DedupeMemory.Key(source: ["twilio", "client:a"].randomElement(using: &rng) ?? "",
                                           eventId: "e\(Int.random(in: 0..<(capacity * 3), using: &rng))")
                let fresh = memory.remember(source: key.source, eventId: key.eventId)
                #expect(fresh == !model.contains(key))
                if fresh {
                    model.append(key)
                    if model.count > capacity { model.removeFirst() }
                }
                for k in model { #expect(memory.contains(source: k.source, eventId: k.eventId)) }
            }
        }
    }

    @Test("The idempotency hash: equal pairs hash alike, a moved boundary or byte does not")
    func seededByteHash() {
        func hash(_ source: String, _ eventId: String) -> Int {
            DedupeMemory.Key(source: source, eventId: eventId).tableHash
        }
        let long = String(repeating: "x", count: 40)
        #expect(hash("twilio", "CA1:1:ringing") == hash("twilio", "CA1:1:ringing"))
        #expect(hash(long, long) == hash(String(long), String(long)))
        #expect(hash("ab", "c") != hash("a", "bc"))
        #expect(hash("", "abc") != hash("abc", ""))
        #expect(hash("twilio", "e1") != hash("twilio", "e2"))
        // Every length up to three words, so each tail shape is exercised.
        var seen = Set<Int>()
        for n in 0..<25 { seen.insert(hash("s", String(repeating: "a", count: n))) }
        #expect(seen.count == 25)
    }

    @Test("A zero-capacity memory remembers nothing")
    func dedupeZero() {
        var memory = DedupeMemory(capacity: 0)
        let first = memory.remember(source: "s", eventId: "1")
        let second = memory.remember(source: "s", eventId: "1")
        #expect(first && second)
        #expect(!memory.contains(source: "s", eventId: "1"))
    }

    @Test("UpdateResults keeps every result, past the packed word too")
    func packedResults() {
        var results = UpdateResults()
        let all: [UpdateResult] = (0..<40).map { i in
            UpdateResult(outcome: [.applied, .stale, .duplicate, .conflict, .invalid][i % 5], clamped: i % 3 == 0)
        }
        for r in all { results.append(r) }
        #expect(results.count == 40)
        #expect((0..<40).map { results[$0] } == all)
        #expect(all[3].fate == .clamped && all[1].fate == .stale)
    }

    @Test("An input with more updates than the packed word reports each one")
    func wideInput() {
        var session = CallSession(sessionId: "s", epoch: "E")
        let updates = (0..<30).map { update(.metadata("k\($0)"), .int(Int64($0)), ts: t0 - 10) }
            + [update(.metadata("k0"), .int(-1), ts: t0 - 20)]
        let outcome = session.apply(input(updates), now: t0)
        #expect(outcome.applied.count == 30)
        #expect(outcome.ignored == [IgnoredUpdate(field: "metadata.k0", reason: .stale)])
        #expect(session.timeline.last?.updates.count == 31)
        #expect(session.timeline.last?.updates.last?.fate == .stale)
        #expect(session.document.metadata.count == 30)
    }

    @Test("BoundedRing spanning several storage chunks keeps the newest `capacity` in order")
    func ringAcrossChunks() {
        for capacity in [31, 32, 33, 100] {
            var ring = BoundedRing<Int>(capacity: capacity)
            var dropped: [Int] = []
            for i in 0..<250 {
                if let old = ring.appendEvicting(i) { dropped.append(old) }
            }
            #expect(ring.elements == Array((250 - capacity)..<250))
            #expect(dropped == Array(0..<(250 - capacity)))
            #expect(ring.count == capacity)
            #expect(ring[0] == 250 - capacity && ring.last == 249)
        }
    }

    @Test("BoundedRing drops the oldest and reports what it dropped")
    func ring() {
        var ring = BoundedRing<Int>(capacity: 3)
        let first = ring.appendEvicting(1)
        #expect(first == nil)
        ring.append(2)
        ring.append(3)
        let dropped = ring.appendEvicting(4)
        #expect(dropped == 1)
        ring.append(5)
        #expect(ring.elements == [3, 4, 5])
        #expect(ring.first == 3 && ring.last == 5)
        var none = BoundedRing<Int>(capacity: 0)
        let refused = none.appendEvicting(1)
        #expect(refused == 1)
        #expect(none.isEmpty)
    }
}

@Suite("CallStateValue.parse")
struct CallStateParseTests {
    @Test("parse agrees with init(rawValue:) on every raw value and on near misses")
    func agreesWithRawValue() {
        var inputs = CallStateValue.allCases.map(\.rawValue)
        inputs += ["", "i", "idle ", "Idle", "onhold", "on-hold", "connectex", "ringing\u{0}", "canceleD", "bus", "é"]
        for raw in inputs {
            #expect(CallStateValue.parse(raw) == CallStateValue(rawValue: raw), "\(raw)")
        }
    }
}
