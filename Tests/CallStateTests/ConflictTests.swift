import Testing
@testable import CallState

@Suite("Conflicts (§2.4)")
struct ConflictTests {
    @Test("A tie on ts broken by lifecycle rank is a tie conflict, whatever the arrival order")
    func tieBrokenByRank() {
        let ringing = stateInput(.ringing, ts: t0 - 1000, source: "client:alice", kind: .client)
        let connected = stateInput(.connected, ts: t0 - 1000, source: "twilio", kind: .provider)
        let expected = Conflict(
            field: .callState,
            kept: .init(value: .string("connected"), source: "twilio", sourceKind: .provider, ts: t0 - 1000),
            discarded: .init(value: .string("ringing"), source: "client:alice", sourceKind: .client, ts: t0 - 1000),
            rule: .tie)
        for order in [[ringing, connected], [connected, ringing]] {
            var session = CallSession(sessionId: "s1", epoch: "E")
            let outcomes = order.map { session.apply($0, now: t0) }
            #expect(outcomes.flatMap(\.conflicts) == [expected])
            #expect(session.document.callState == .connected)
        }
    }

    @Test("The conflict's wire shape is {field, kept:{value,source,ts}, discarded:{…}, rule}")
    func conflictJSON() {
        let conflict = Conflict(
            field: .metadata("agent"),
            kept: .init(value: .string("bob"), source: "backend", sourceKind: .backend, ts: 2),
            discarded: .init(value: .string("ann"), source: "client:a", sourceKind: .client, ts: 1),
            rule: .concurrent)
        #expect(conflict.json.canonicalText == #"{"discarded":{"source":"client:a","ts":1,"value":"ann"},"#
            + #""field":"metadata.agent","kept":{"source":"backend","ts":2,"value":"bob"},"rule":"concurrent"}"#)
    }

    @Test("A later non-terminal state losing to a terminal one is a terminal conflict")
    func terminalRule() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ended, ts: t0 - 10_000), now: t0)
        let outcome = session.apply(
            stateInput(.connected, ts: t0 - 2_000, source: "client:alice", kind: .client), now: t0)
        #expect(outcome.conflicts.map(\.rule) == [.terminal])
        #expect(outcome.conflicts.first?.kept.value == .string("ended"))
        #expect(outcome.conflicts.first?.discarded.value == .string("connected"))
        #expect(outcome.ignored == [IgnoredUpdate(field: "callState", reason: .conflict)])
        #expect(session.timeline.last?.conflicts.map(\.rule) == [.terminal])
        #expect(session.timeline.last?.updates.first?.fate == .conflict)
    }

    @Test("The terminal rule in the other order: an older end replacing a later state is a conflict")
    func terminalRuleWinnerArrivesLast() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.connected, ts: t0 - 2_000, source: "client:alice", kind: .client), now: t0)
        let outcome = session.apply(stateInput(.ended, ts: t0 - 10_000), now: t0)
        #expect(outcome.applied == [.callState])
        #expect(outcome.conflicts.map(\.rule) == [.terminal])
        #expect(outcome.conflicts.first?.discarded.source == "client:alice")
    }

    @Test("An older non-terminal state losing to a terminal one is just stale")
    func olderStateIsStaleNotConflict() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ended, ts: t0 - 1_000), now: t0)
        let outcome = session.apply(
            stateInput(.connected, ts: t0 - 9_000, source: "client:alice", kind: .client), now: t0)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.ignored == [IgnoredUpdate(field: "callState", reason: .stale)])
    }

    @Test("Different source kinds less than conflictWindowMs apart conflict as concurrent; farther apart they do not")
    func concurrentWithinWindowOnly() {
        func run(gap: Int64, reverse: Bool) -> [Conflict] {
            var session = CallSession(sessionId: "s1", epoch: "E")
            let a = input([update(.metadata("agent"), .string("ann"), ts: t0 - 5_000, source: "client:a", kind: .client)])
            let b = input([update(.metadata("agent"), .string("bob"), ts: t0 - 5_000 + gap, source: "backend",
                                  kind: .backend)])
            return (reverse ? [b, a] : [a, b]).flatMap { session.apply($0, now: t0).conflicts }
        }
        for reverse in [false, true] {
            let inside = run(gap: 999, reverse: reverse)
            #expect(inside.map(\.rule) == [.concurrent])
            #expect(inside.first?.kept.value == .string("bob"))
            #expect(inside.first?.discarded.value == .string("ann"))
            #expect(run(gap: 1000, reverse: reverse).isEmpty)
        }
    }

    @Test("Same source kind within the window is no conflict, nor is agreement, nor a seq-ordered pair")
    func nonConflicts() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(input([update(.metadata("k"), .string("a"), ts: t0 - 500, source: "twilio")]), now: t0)
        var outcome = session.apply(input([update(.metadata("k"), .string("b"), ts: t0 - 400, source: "telnyx")]),
                                    now: t0)
        #expect(outcome.conflicts.isEmpty)
        // Same value from another kind at the same ts: agreement, not a tie.
        outcome = session.apply(input([update(.metadata("k"), .string("b"), ts: t0 - 400, source: "client:a",
                                              kind: .client)]), now: t0)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.ignored.map(\.reason) == [.stale])
        // Equal ts, same source, ordered by the source's seq.
        let a = update(.metadata("s"), .string("x"), ts: t0 - 300, seq: 1)
        let b = update(.metadata("s"), .string("y"), ts: t0 - 300, seq: 2)
        _ = session.apply(input([a]), now: t0)
        outcome = session.apply(input([b]), now: t0)
        #expect(outcome.applied == [.metadata("s")])
        #expect(outcome.conflicts.isEmpty)
    }
}
