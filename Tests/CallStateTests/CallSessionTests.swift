import Testing
@testable import CallState

@Suite("CallSession: skew, idempotency, versions, metadata, derived fields")
struct CallSessionTests {
    /// §10: `calleeSub` merges like the other strings, the later `ts` wins
    /// whatever the arrival order, and a wrong type is dropped.
    @Test func calleeSubIsLastWriterWinsByTimestamp() {
        for order in [[0, 1], [1, 0]] {
            var session = CallSession(sessionId: "s1", epoch: "E")
            let writes = [update(.calleeSub, "alice", ts: t0, source: "backend", kind: .backend),
                          update(.calleeSub, "bob", ts: t0 + 10, source: "client:x", kind: .client)]
            for index in order { _ = session.apply(input([writes[index]]), now: t0 + 100) }
            #expect(session.document.calleeSub == "bob", "arrival order \(order)")
            #expect(session.document.json["calleeSub"] == "bob")
        }
        var typed = CallSession(sessionId: "s2", epoch: "E")
        _ = typed.apply(input([update(.calleeSub, .int(5), ts: t0)]), now: t0)
        #expect(typed.document.calleeSub == nil)
        #expect(Field(name: "calleeSub") == .calleeSub)
    }

    @Test("A client ts an hour in the future is clamped to the hub clock and still merged")
    func futureTimestampIsClamped() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let hourAhead = t0 + 3_600_000
        let outcome = session.apply(
            stateInput(.connected, ts: hourAhead, source: "client:alice", kind: .client, eventId: "c1"), now: t0)
        #expect(outcome.clamped == [.callState])
        #expect(outcome.applied == [.callState])
        #expect(session.winner(.callState)?.ts == t0)
        #expect(session.document.answeredAt == t0)
        let record = session.timeline.last?.updates.first
        #expect(record?.fate == .clamped)
        #expect(record?.ts == t0)
        #expect(record?.clampedFrom == hourAhead)
    }

    @Test("A ts within maxFutureSkewMs is kept as is")
    func smallSkewIsKept() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let outcome = session.apply(stateInput(.ringing, ts: t0 + 5000), now: t0)
        #expect(outcome.clamped.isEmpty)
        #expect(session.winner(.callState)?.ts == t0 + 5000)
        #expect(session.timeline.last?.updates.first?.fate == .applied)
    }

    @Test("A duplicate (source, eventId) is acknowledged as duplicate and changes nothing")
    func duplicateChangesNothing() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let first = stateInput(.ringing, ts: t0 - 100, eventId: "CA1:1:ringing")
        _ = session.apply(first, now: t0)
        let before = session.document
        // Same id, even with a different body: the id is the idempotency key.
        var again = stateInput(.connected, ts: t0, eventId: "CA1:1:ringing")
        again.updates.append(update(.metadata("agent"), .string("bob"), ts: t0, eventId: "CA1:1:ringing"))
        let outcome = session.apply(again, now: t0 + 10)
        #expect(outcome.duplicate)
        #expect(outcome.version == before.version)
        #expect(outcome.applied.isEmpty)
        #expect(outcome.ignored == [IgnoredUpdate(field: "callState", reason: .duplicate),
                                    IgnoredUpdate(field: "metadata.agent", reason: .duplicate)])
        #expect(!outcome.stateChanged)
        #expect(session.version == before.version)
        #expect(session.document == before)
        #expect(session.timeline.last?.updates.map(\.fate) == [.duplicate, .duplicate])
    }

    @Test("The same eventId from another source is not a duplicate")
    func eventIdIsScopedBySource() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 100, eventId: "42"), now: t0)
        let outcome = session.apply(
            stateInput(.connected, ts: t0, source: "client:alice", kind: .client, eventId: "42"), now: t0)
        #expect(!outcome.duplicate)
        #expect(session.document.callState == .connected)
    }

    @Test("The idempotency memory is bounded and forgets the oldest id first")
    func dedupeWindowIsBounded() {
        var session = CallSession(sessionId: "s1", epoch: "E", config: MergeConfig(dedupeWindow: 2))
        _ = session.apply(input([update(.metadata("a"), .int(1), ts: t0 - 30)], eventId: "e1"), now: t0)
        _ = session.apply(input([update(.metadata("a"), .int(2), ts: t0 - 20)], eventId: "e2"), now: t0)
        _ = session.apply(input([update(.metadata("a"), .int(3), ts: t0 - 10)], eventId: "e3"), now: t0)
        #expect(session.apply(input([update(.metadata("a"), .int(3), ts: t0 - 10)], eventId: "e3"), now: t0).duplicate)
        let forgotten = session.apply(input([update(.metadata("a"), .int(1), ts: t0 - 30)], eventId: "e1"), now: t0)
        #expect(!forgotten.duplicate)
        // Forgetting is harmless: the re-merged old update is stale.
        #expect(forgotten.ignored == [IgnoredUpdate(field: "metadata.a", reason: .stale)])
        #expect(session.document.metadata["a"] == .int(3))
    }

    @Test("Version goes up by exactly one per input that changed something, never for no-ops")
    func versionCountsChanges() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        #expect(session.version == 0)
        // Several fields in one input: one version.
        var outcome = session.apply(input([
            update(.callState, .string("ringing"), ts: t0 - 900),
            update(.provider, .string("twilio"), ts: t0 - 900),
            update(.metadata("agent"), .string("ann"), ts: t0 - 900),
        ], eventId: "a"), now: t0)
        #expect(outcome.version == 1 && session.version == 1)
        #expect(outcome.changed == ["provider", "callState", "logStatus", "metadata", "startedAt"])
        // Stale: no change.
        outcome = session.apply(input([update(.metadata("agent"), .string("bob"), ts: t0 - 950)], eventId: "b"),
                                now: t0)
        #expect(outcome.version == 1 && !outcome.stateChanged)
        #expect(outcome.ignored == [IgnoredUpdate(field: "metadata.agent", reason: .stale)])
        // Stale for the register, but an earlier observation: startedAt moves, so it is a change.
        outcome = session.apply(stateInput(.initiated, ts: t0 - 950, eventId: "b2"), now: t0)
        #expect(outcome.ignored == [IgnoredUpdate(field: "callState", reason: .stale)])
        #expect(outcome.changed == ["startedAt"])
        #expect(outcome.version == 2)
        // A later update with the same value: winner moves, document does not.
        outcome = session.apply(stateInput(.ringing, ts: t0 - 800, eventId: "c"), now: t0)
        #expect(outcome.applied == [.callState])
        #expect(outcome.version == 2 && !outcome.stateChanged)
        // Duplicate: no change.
        outcome = session.apply(stateInput(.ringing, ts: t0 - 800, eventId: "c"), now: t0)
        #expect(outcome.duplicate && outcome.version == 2)
        // A real change.
        outcome = session.apply(stateInput(.connected, ts: t0 - 700, eventId: "d"), now: t0)
        #expect(outcome.version == 3 && session.version == 3)
        #expect(outcome.changed == ["callState", "logStatus", "answeredAt"])
        #expect(session.document.version == 3)
        // Quality alone also counts.
        outcome = session.apply(qualityInput([QualitySample(ts: t0, latency: 20, jitter: 1, packetLoss: 0,
                                                            source: "client:alice")]), now: t0)
        #expect(outcome.version == 4 && outcome.qualityChanged && !outcome.stateChanged && outcome.changed.isEmpty)
    }

    @Test("Metadata merges per key: each key is its own register")
    func metadataMergesPerKey() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(input([
            update(.metadata("agent"), .string("ann"), ts: t0 - 500, source: "backend", kind: .backend),
            update(.metadata("mood"), .string("calm"), ts: t0 - 500, source: "backend", kind: .backend),
        ]), now: t0)
        _ = session.apply(input([
            update(.metadata("agent"), .string("bob"), ts: t0 - 100, source: "client:alice", kind: .client),
            update(.metadata("mood"), .string("angry"), ts: t0 - 900, source: "client:alice", kind: .client),
            update(.metadata("handoff"), .bool(true), ts: t0 - 900, source: "client:alice", kind: .client),
        ]), now: t0)
        #expect(session.document.metadata == ["agent": .string("bob"), "mood": .string("calm"),
                                              "handoff": .bool(true)])
        // null unsets a key (a later null wins like any value).
        _ = session.apply(input([update(.metadata("mood"), .null, ts: t0, source: "backend", kind: .backend)]),
                          now: t0)
        #expect(session.document.metadata["mood"] == nil)
        #expect(session.document.json["metadata"]?["mood"] == nil)
    }

    @Test("Recording members are separate fields shown as one object")
    func recordingObject() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(input([
            update(.recordingActive, .bool(true), ts: t0 - 10, source: "client:a", kind: .client),
        ]), now: t0)
        let outcome = session.apply(input([
            update(.recordingId, .string("RE1"), ts: t0),
            update(.recordingFormat, .string("mp3"), ts: t0),
            update(.recordingDuration, .int(42), ts: t0),
        ]), now: t0)
        #expect(outcome.changed == ["recording"])
        #expect(session.document.recording == Recording(active: true, recordingId: "RE1", format: "mp3", duration: 42))
        #expect(session.document.json["recording"] == .object([
            "active": .bool(true), "recordingId": .string("RE1"), "format": .string("mp3"), "duration": .int(42),
        ]))
    }

    @Test("Values of the wrong type are dropped as invalid")
    func invalidValues() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        let outcome = session.apply(input([
            update(.callState, .string("dancing"), ts: t0),
            update(.callState, .null, ts: t0),
            update(.direction, .string("sideways"), ts: t0),
            update(.recordingActive, .string("yes"), ts: t0),
            update(.metadata("x"), .array([]), ts: t0),
        ]), now: t0)
        #expect(outcome.ignored.map(\.reason) == Array(repeating: .invalid, count: 5))
        #expect(outcome.version == 0)
        #expect(session.timeline.last?.updates.map(\.fate) == Array(repeating: .invalid, count: 5))
    }

    @Test("Derived fields: logStatus, startedAt, answeredAt, endedAt, duration")
    func derivedFields() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.initiated, ts: t0 - 60_000), now: t0)
        _ = session.apply(stateInput(.ringing, ts: t0 - 55_000), now: t0)
        var doc = session.document
        #expect(doc.logStatus == .initiated)
        #expect(doc.startedAt == t0 - 60_000)
        #expect(doc.answeredAt == nil && doc.endedAt == nil && doc.duration == nil)
        _ = session.apply(stateInput(.connected, ts: t0 - 50_000), now: t0)
        _ = session.apply(stateInput(.onHold, ts: t0 - 30_000, source: "client:a", kind: .client), now: t0)
        doc = session.document
        #expect(doc.callState == .onHold && doc.logStatus == .connected)
        #expect(doc.answeredAt == t0 - 50_000)
        let outcome = session.apply(stateInput(.ended, ts: t0 - 8_500), now: t0)
        #expect(outcome.changed == ["callState", "logStatus", "endedAt", "duration"])
        doc = session.document
        #expect(doc.logStatus == .ended)
        #expect(doc.endedAt == t0 - 8_500)
        #expect(doc.duration == 41) // 41.5 s, truncated to whole seconds
        // A connected that arrives late but is older still answers earlier.
        _ = session.apply(stateInput(.connected, ts: t0 - 52_000, source: "client:a", kind: .client), now: t0)
        doc = session.document
        #expect(doc.callState == .ended)
        #expect(doc.answeredAt == t0 - 52_000)
        #expect(doc.duration == 43)
        // A later terminal report does not move endedAt (first time reached).
        _ = session.apply(stateInput(.ended, ts: t0 - 7_000, source: "client:a", kind: .client), now: t0)
        #expect(session.document.endedAt == t0 - 8_500)
        #expect(session.winner(.callState)?.ts == t0 - 7_000)
    }

    @Test("A failed call has logStatus failed and no duration")
    func failedCall() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        _ = session.apply(stateInput(.ringing, ts: t0 - 20_000), now: t0)
        _ = session.apply(stateInput(.busy, ts: t0 - 10_000), now: t0)
        let doc = session.document
        #expect(doc.logStatus == .failed)
        #expect(doc.endedAt == t0 - 10_000)
        #expect(doc.answeredAt == nil && doc.duration == nil)
    }

    @Test("lastSync is the hub time of the last input that changed something")
    func lastSync() {
        var session = CallSession(sessionId: "s1", epoch: "E")
        #expect(session.document.lastSync == nil)
        _ = session.apply(stateInput(.ringing, ts: t0 - 100), now: t0)
        _ = session.apply(input([update(.metadata("a"), .int(1), ts: t0 - 200)]), now: t0 + 10)
        _ = session.apply(input([update(.metadata("a"), .int(2), ts: t0 - 300)]), now: t0 + 50) // stale
        #expect(session.document.lastSync == t0 + 10)
    }

    @Test("document.json has every §1 key, null when unknown")
    func documentHasEveryKey() {
        let session = CallSession(sessionId: "s1", epoch: "E")
        guard case .object(let object) = session.document.json else {
            Issue.record("document.json is not an object")
            return
        }
        let expected: Set<String> = [
            "sessionId", "callId", "callUUID", "direction", "from", "to", "phoneNumber", "provider",
            "providerCallId", "twilioCallSid", "sipCallId", "deviceStatus", "callState", "logStatus",
            "recording", "quality", "metadata", "startedAt", "answeredAt", "endedAt", "duration",
            "lastSync", "syncStatus", "version", "calleeSub",
        ]
        #expect(Set(object.keys) == expected)
        #expect(object["callState"] == .null)
        #expect(object["syncStatus"] == .string("synchronized"))
        #expect(object["version"] == .int(0))
    }

    /// A recording duration past Int64 (finite, so accepted) trapped when
    /// the document was built: one client report could stop the hub.
    @Test
    func aHugeRecordingDurationDoesNotTrap() {
        var session = CallSession(sessionId: "dur", epoch: "e")
        _ = session.apply(input([update(.recordingDuration, .double(1e300), ts: t0)]), now: t0)
        #expect(session.document.recording.duration == Int64.max)
        _ = session.apply(input([update(.recordingDuration, .double(12.4), ts: t0 + 1)]), now: t0 + 1)
        #expect(session.document.recording.duration == 12)
    }
}
