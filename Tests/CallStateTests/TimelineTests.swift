import Testing
@testable import CallState

@Suite("Timeline (§2.7)")
struct TimelineTests {
    @Test("Each input is recorded with the fate of each update")
    func fates() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 1000, eventId: "e1"), now: t0)
        _ = session.apply(input([
            update(.callState, .string("initiated"), ts: t0 - 2000, eventId: "e2"),
            update(.metadata("agent"), .string("ann"), ts: t0 + 60_000, eventId: "e2"),
            update(.direction, .string("upward"), ts: t0, eventId: "e2"),
        ], eventId: "e2", kind: "twilio.status"), now: t0 + 1)
        _ = session.apply(stateInput(.ringing, ts: t0 - 1000, eventId: "e1"), now: t0 + 2)
        _ = session.apply(stateInput(.connected, ts: t0 - 500, source: "client:a", kind: .client), now: t0 + 3)
        _ = session.apply(stateInput(.ended, ts: t0 - 3000), now: t0 + 4)
        _ = session.apply(stateInput(.connected, ts: t0 - 100, source: "client:a", kind: .client), now: t0 + 5)

        let timeline = session.timeline
        #expect(timeline.map(\.at) == (0...5).map { t0 + $0 })
        #expect(timeline.map { $0.updates.map(\.fate) } == [
            [.applied], [.stale, .clamped, .invalid], [.duplicate], [.applied], [.applied], [.conflict],
        ])
        #expect(timeline[1].kind == "twilio.status")
        #expect(timeline[1].eventId == "e2")
        #expect(timeline[1].updates[1].ts == t0 + 1)
        #expect(timeline[4].conflicts.map(\.rule) == [.terminal])
        #expect(timeline[5].conflicts.map(\.rule) == [.terminal])
        #expect(timeline.map(\.version) == [1, 2, 2, 3, 4, 4])
        #expect(timeline[2].json["updates"]?.canonicalText
            == #"[{"fate":"duplicate","field":"callState","ts":\#(t0 - 1000),"value":"ringing"}]"#)
    }

    @Test("The timeline keeps the last timelineEntries inputs, oldest first")
    func bounded() {
        var session = CallSession(sessionId: "s1", epoch: "E", config: MergeConfig(timelineEntries: 3))
        for i in 0..<7 {
            _ = session.apply(input([update(.metadata("n"), .int(Int64(i)), ts: t0 + Int64(i))]), now: t0 + Int64(i))
        }
        #expect(session.timeline.map(\.at) == [t0 + 4, t0 + 5, t0 + 6])
        #expect(session.timeline.count == 3)
    }
}
