import Testing
@testable import CallState

@Suite("syncStatus (§2.5)")
struct SyncStatusTests {
    @Test("One side silent, or both agreeing, is synchronized")
    func synchronized() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        #expect(session.document.syncStatus == .synchronized)
        _ = session.apply(stateInput(.ringing, ts: t0 - 50, source: "client:a", kind: .client), now: t0)
        #expect(session.document.syncStatus == .synchronized)
        #expect(session.nextDeadline() == nil)
    }

    @Test("Disagreement is pending, flips to conflict by tick() at nextDeadline(), and heals on agreement")
    func pendingThenConflictOnTimer() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        let outcome = session.apply(stateInput(.connected, ts: t0, source: "client:a", kind: .client), now: t0 + 10)
        #expect(outcome.changed.contains("syncStatus"))
        #expect(session.document.syncStatus == .pending)
        let deadline = t0 + 10 + 3000
        #expect(session.nextDeadline() == deadline)

        // Too early: nothing happens, no version.
        let version = session.version
        #expect(session.tick(now: deadline - 1) == nil)
        #expect(session.version == version)

        let flip = session.tick(now: deadline)
        #expect(flip?.changed == ["syncStatus"])
        #expect(flip?.stateChanged == true)
        #expect(flip?.version == version + 1)
        #expect(session.document.syncStatus == .conflict)
        #expect(session.nextDeadline() == nil)
        #expect(session.tick(now: deadline + 5000) == nil)

        _ = session.apply(stateInput(.connected, ts: t0 + 4000), now: deadline + 100)
        #expect(session.document.syncStatus == .synchronized)
    }

    @Test("The window keeps running while the sides keep differing")
    func windowIsNotRestartedByAnotherDifference() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        _ = session.apply(stateInput(.connected, ts: t0, source: "client:a", kind: .client), now: t0)
        _ = session.apply(stateInput(.connecting, ts: t0 + 10), now: t0 + 2000)
        #expect(session.document.syncStatus == .pending)
        #expect(session.nextDeadline() == t0 + 3000)
        // An input arriving after the deadline also evaluates the status.
        _ = session.apply(input([update(.metadata("x"), .int(1), ts: t0)]), now: t0 + 3500)
        #expect(session.document.syncStatus == .conflict)
    }

    @Test("Backend reports do not take part in syncStatus")
    func backendIgnored() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        _ = session.apply(stateInput(.connected, ts: t0, source: "backend", kind: .backend), now: t0)
        #expect(session.document.syncStatus == .synchronized)
    }
}

/// Issue 27 item 3: what `syncStatus` means once the call is over.
@Suite("syncStatus after a terminal state")
struct SyncStatusAfterTheEndTests {
    @Test("Two different terminal states agree that the call is over: synchronized, no timer")
    func differentTerminalStatesAreSynchronized() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        _ = session.apply(stateInput(.declined, ts: t0, source: "client:a", kind: .client), now: t0 + 10)
        _ = session.apply(stateInput(.busy, ts: t0 + 20), now: t0 + 30)
        #expect(session.document.syncStatus == .synchronized)
        #expect(session.nextDeadline() == nil)
        #expect(session.tick(now: t0 + 60_000) == nil)
        #expect(session.document.syncStatus == .synchronized)
    }

    @Test("A side still live after the end is pending for the window, then settles to synchronized by tick()")
    func aSilentSideSettlesAfterTheWindow() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0, source: "client:a", kind: .client), now: t0)
        _ = session.apply(stateInput(.busy, ts: t0 + 10), now: t0 + 100)
        #expect(session.document.syncStatus == .pending)
        let deadline = t0 + 100 + 3000
        #expect(session.nextDeadline() == deadline)
        let version = session.version
        let settled = session.tick(now: deadline)
        #expect(settled?.changed == ["syncStatus"])
        #expect(settled?.version == version + 1)
        #expect(session.document.syncStatus == .synchronized)
        #expect(session.nextDeadline() == nil)
        #expect(session.tick(now: deadline + 600_000) == nil, "it stays settled")
    }

    @Test("A live conflict settles when the call ends; a live call still turns conflict")
    func aConflictSettlesAtTheEnd() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0), now: t0)
        _ = session.apply(stateInput(.connected, ts: t0 + 1, source: "client:a", kind: .client), now: t0)
        _ = session.tick(now: t0 + 3000)
        #expect(session.document.syncStatus == .conflict, "live: the sides need attention")
        let ended = session.apply(stateInput(.ended, ts: t0 + 5000, source: "client:a", kind: .client), now: t0 + 5000)
        #expect(ended.changed.contains("syncStatus"))
        #expect(session.document.callState == .ended)
        #expect(session.document.syncStatus == .synchronized)
    }
}
