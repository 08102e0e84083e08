import Testing
@testable import CallState

/// The convergence guarantee of §2.2, tested as such: the document is a pure
/// function of the set of updates, whatever the arrival order, duplication or
/// split across replicas. Generated with a fixed seed, so failures reproduce.
@Suite("Convergence (property-based, fixed seed)")
struct ConvergenceTests {
    static let sources: [(String, SourceKind)] = [
        ("twilio", .provider), ("telnyx", .provider), ("backend", .backend),
        ("client:alice", .client), ("client:bob", .client),
    ]
    static let metadataValues: [JSONValue] = [.string("ann"), .string("bob"), .int(1), .double(1.5), .bool(true), .null]

    /// A random set of inputs: several fields, colliding `ts` (a few 500 ms
    /// buckets), every source kind, some inputs without id, some repeated
    /// verbatim (duplicated deliveries). Every `ts` is at or before `t0`, so no
    /// clamping makes the result depend on the hub clock.
    /// With `future`, about a third of the inputs are dated past `t0` by more
    /// than the allowed skew (up to a day ahead), so the hub clamps them.
    static func randomInputs(_ rng: inout SplitMix64, future: Bool = false) -> [Input] {
        var inputs: [Input] = []
        let count = Int.random(in: 3...14, using: &rng)
        for i in 0..<count {
            let (source, kind) = sources.randomElement(using: &rng) ?? sources[0]
            let eventId: String? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : "e\(i)"
            var ts = t0 - Int64.random(in: 0..<6, using: &rng) * 500
            if future, Int.random(in: 0..<3, using: &rng) == 0 {
                ts = t0 + MergeConfig().maxFutureSkewMs + 1000 + Int64.random(in: 0..<86_400, using: &rng) * 1000
            }
            let seq = Int64.random(in: 0..<3, using: &rng)
            var updates: [Update] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let field: Field
                let value: JSONValue
                switch Int.random(in: 0..<6, using: &rng) {
                case 0, 1:
                    field = .callState
                    value = .string((CallStateValue.allCases.randomElement(using: &rng) ?? .idle).rawValue)
                case 2:
                    field = .metadata(["agent", "mood"].randomElement(using: &rng) ?? "agent")
                    value = metadataValues.randomElement(using: &rng) ?? .null
                case 3:
                    field = .direction
                    value = .string(Bool.random(using: &rng) ? "inbound" : "outbound")
                case 4:
                    field = .recordingActive
                    value = .bool(Bool.random(using: &rng))
                default:
                    field = .callId
                    value = .string(["c1", "c2", "c3"].randomElement(using: &rng) ?? "c1")
                }
                // Some updates in one input share a ts, some differ slightly.
                let uts = ts - (Bool.random(using: &rng) ? 0 : 500)
                updates.append(Update(field: field, value: value, ts: uts, source: source, sourceKind: kind,
                                      seq: seq, eventId: eventId))
            }
            inputs.append(Input(kind: "gen", source: source, sourceKind: kind, eventId: eventId,
                                receivedAt: t0, updates: updates))
        }
        // Duplicate deliveries: exact copies.
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            if let copy = inputs.randomElement(using: &rng) { inputs.append(copy) }
        }
        return inputs
    }

    static func run(_ inputs: [Input], config: MergeConfig = MergeConfig(), now: (Int) -> Int64 = { _ in t0 })
        -> CallSession {
        var session = CallSession(sessionId: "prop", epoch: "E", config: config)
        for (i, input) in inputs.enumerated() { _ = session.apply(input, now: now(i)) }
        return session
    }

    @Test("Every arrival order and every duplication gives byte-identical documents (fixed hub clock)")
    func permutationsAndDuplicates() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<300 {
            let inputs = Self.randomInputs(&rng)
            let reference = Self.run(inputs).document
            for _ in 0..<25 {
                var shuffled = inputs.shuffled(using: &rng)
                // Extra duplication of a random input, anywhere.
                if let extra = inputs.randomElement(using: &rng) {
                    shuffled.insert(extra, at: Int.random(in: 0...shuffled.count, using: &rng))
                }
                let doc = Self.run(shuffled).document
                #expect(doc.convergentJSON.canonicalText == reference.convergentJSON.canonicalText)
                #expect(doc.syncStatus == reference.syncStatus)
                #expect(doc.lastSync == reference.lastSync)
                if doc.convergentJSON.canonicalText != reference.convergentJSON.canonicalText { return }
            }
        }
    }

    @Test("Converges with a moving hub clock and with a tiny idempotency memory (re-merged duplicates)")
    func movingClockAndForgetfulDedupe() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        let forgetful = MergeConfig(dedupeWindow: 1)
        for _ in 0..<200 {
            let inputs = Self.randomInputs(&rng)
            let reference = Self.run(inputs).document.convergentJSON.canonicalText
            for _ in 0..<10 {
                let shuffled = inputs.shuffled(using: &rng) + inputs.shuffled(using: &rng)
                let moving = Self.run(shuffled, config: forgetful, now: { t0 + Int64($0) * 700 })
                #expect(moving.document.convergentJSON.canonicalText == reference)
            }
        }
    }

    @Test("Inputs dated past the allowed skew are clamped to the hub clock, reported, and still converge")
    func futureTimestampsAreClampedAndConverge() {
        var rng = SplitMix64(seed: 0x5EED_0005)
        let limit = t0 + MergeConfig().maxFutureSkewMs
        var clampedSeen = 0
        for _ in 0..<200 {
            let inputs = Self.randomInputs(&rng, future: true)
            var reference = CallSession(sessionId: "prop", epoch: "E")
            for input in inputs {
                let outcome = reference.apply(input, now: t0)
                let ahead = input.updates.filter { $0.ts > limit }.count
                if ahead > 0, !outcome.duplicate {
                    #expect(!outcome.clamped.isEmpty, "an input \(ahead) update(s) ahead of the clock is reported clamped")
                    clampedSeen += 1
                }
            }
            // No future date survives into the document's registers.
            #expect(reference.stateUpdates.allSatisfy { $0.ts <= limit },
                    "kept ts: \(reference.stateUpdates.map(\.ts).filter { $0 > limit })")
            let text = reference.document.convergentJSON.canonicalText
            for _ in 0..<10 {
                let shuffled = inputs.shuffled(using: &rng)
                #expect(Self.run(shuffled).document.convergentJSON.canonicalText == text)
            }
        }
        #expect(clampedSeen > 50, "the generator produced clamped inputs (\(clampedSeen))")
    }

    @Test("Two replicas fed halves of the set, then merged either way, equal one replica fed everything")
    func splitAndMerge() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        for _ in 0..<300 {
            let inputs = Self.randomInputs(&rng)
            let reference = Self.run(inputs).document.convergentJSON.canonicalText
            let shuffled = inputs.shuffled(using: &rng)
            let cut = Int.random(in: 0...shuffled.count, using: &rng)
            // Some inputs reach both replicas.
            let overlap = Int.random(in: 0...min(2, cut), using: &rng)
            let a = Self.run(Array(shuffled[..<cut]))
            let b = Self.run(Array(shuffled[(cut - overlap)...]))
            var ab = a
            _ = ab.merge(b, now: t0)
            var ba = b
            _ = ba.merge(a, now: t0)
            #expect(ab.document.convergentJSON.canonicalText == reference)
            #expect(ba.document.convergentJSON.canonicalText == reference)
            // Merging is idempotent.
            var again = ab
            let outcome = again.merge(b, now: t0)
            #expect(!outcome.stateChanged)
            #expect(again.document.convergentJSON.canonicalText == reference)
        }
    }

    @Test("Replaying stateUpdates into an empty session reproduces the document")
    func stateUpdatesReproduce() {
        var rng = SplitMix64(seed: 0x5EED_0004)
        for _ in 0..<200 {
            let session = Self.run(Self.randomInputs(&rng))
            var replica = CallSession(sessionId: "prop", epoch: "E")
            _ = replica.apply(Input(kind: "replay", source: "hub", sourceKind: .backend, receivedAt: t0,
                                    updates: session.stateUpdates.shuffled(using: &rng)), now: t0)
            #expect(replica.document.convergentJSON.canonicalText == session.document.convergentJSON.canonicalText)
        }
    }
}
