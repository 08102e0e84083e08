import Testing
@testable import CallState

@Suite("Merge order (§2.2)")
struct MergeOrderTests {
    @Test("A terminal state beats a later connected, in either arrival order")
    func terminalBeatsLaterConnected() {
        let ended = stateInput(.ended, ts: t0 - 5000, eventId: "e1")
        let connected = stateInput(.connected, ts: t0 - 1000, source: "client:alice", kind: .client, eventId: "c1")
        for order in [[ended, connected], [connected, ended]] {
            var session = CallSession(sessionId: "s1", epoch: "E")
            for i in order { _ = session.apply(i, now: t0) }
            #expect(session.document.callState == .ended)
        }
    }

    @Test("Equal-second Twilio ringing and in-progress resolve to connected in either order")
    func equalSecondTwilioResolvesToConnected() {
        // Twilio timestamps have 1 s resolution; SequenceNumber is deliberately
        // reversed here to show the lifecycle rank decides before seq.
        let ringing = stateInput(.ringing, ts: t0 - 2000, seq: 3, eventId: "CA1:3:ringing")
        let inProgress = stateInput(.connected, ts: t0 - 2000, seq: 2, eventId: "CA1:2:in-progress")
        for order in [[ringing, inProgress], [inProgress, ringing]] {
            var session = CallSession(sessionId: "s1", epoch: "E")
            for i in order { _ = session.apply(i, now: t0) }
            #expect(session.document.callState == .connected)
            #expect(session.document.logStatus == .connected)
        }
    }

    @Test("The key compares left to right: ts, then source rank, seq, source bytes, value text")
    func keyOrder() {
        let base = update(.metadata("agent"), .string("b"), ts: 10, source: "backend", kind: .backend, seq: 1)
        var later = base; later.ts = 11
        #expect(MergeOrder.compare(later, base) == .init(order: 1, rule: .timestamp))
        var provider = base; provider.sourceKind = .provider
        #expect(MergeOrder.compare(provider, base) == .init(order: 1, rule: .sourceRank))
        var seq = base; seq.seq = 2
        #expect(MergeOrder.compare(seq, base) == .init(order: 1, rule: .seq))
        var source = base; source.source = "backenz"
        #expect(MergeOrder.compare(source, base) == .init(order: 1, rule: .source))
        var value = base; value.value = .string("c")
        #expect(MergeOrder.compare(value, base) == .init(order: 1, rule: .value))
        #expect(MergeOrder.compare(base, base) == .init(order: 0, rule: .none))
        // eventId is not part of the key.
        var other = base; other.eventId = "x"
        #expect(MergeOrder.compare(other, base).order == 0)
    }

    @Test("Terminal and lifecycle rank apply to callState only")
    func rankOnlyForCallState() {
        let a = update(.callState, .string("ended"), ts: 5)
        let b = update(.callState, .string("connected"), ts: 9)
        #expect(MergeOrder.compare(a, b) == .init(order: 1, rule: .terminal))
        let ringing = update(.callState, .string("ringing"), ts: 5)
        let connected = update(.callState, .string("connected"), ts: 5)
        #expect(MergeOrder.compare(connected, ringing) == .init(order: 1, rule: .lifecycleRank))
        // The same strings in a metadata key are just values: rule 7 decides.
        let ma = update(.metadata("k"), .string("ended"), ts: 5)
        let mb = update(.metadata("k"), .string("ringing"), ts: 5)
        #expect(MergeOrder.compare(mb, ma) == .init(order: 1, rule: .value))
    }

    @Test("Values are compared by canonical JSON bytes: int 1 and double 1.0 are the same value")
    func valueTieBreakUsesCanonicalText() {
        let i = update(.metadata("n"), .int(1), ts: 5)
        let d = update(.metadata("n"), .double(1.0), ts: 5)
        #expect(MergeOrder.compare(i, d).order == 0)
        let s = update(.metadata("n"), .string("1"), ts: 5)
        // "\"1\"" (0x22…) sorts before "1" (0x31).
        #expect(MergeOrder.compare(i, s) == .init(order: 1, rule: .value))
    }
}
