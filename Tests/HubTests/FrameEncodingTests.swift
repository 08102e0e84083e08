import CallState
@testable import Hub
import JSONCodec
import Testing

/// The `state_change` frame is written member by member for speed; its bytes
/// must stay those of encoding the frame as a dictionary (canonical JSON).
@Suite struct FrameEncodingTests {
    /// A session with every kind of member filled: metadata, recording,
    /// quality, derived times, and a conflict in the last outcome.
    private func busySession() -> (CallSession, ApplyOutcome) {
        var session = CallSession(sessionId: "frame-1", epoch: "E1")
        let t: Int64 = 1_700_000_000_000
        func input(_ source: String, _ kind: SourceKind, _ updates: [(Field, JSONValue)], at ts: Int64,
                   quality: [QualitySample] = []) -> Input {
            Input(kind: "test", source: source, sourceKind: kind, eventId: "\(source)-\(ts)", receivedAt: ts,
                  updates: updates.map { Update(field: $0.0, value: $0.1, ts: ts, source: source, sourceKind: kind) },
                  quality: quality)
        }
        _ = session.apply(input("twilio", .provider, [(.callState, "ringing"), (.callId, "c-1"), (.from, "+15550100"),
                                                     (.provider, "twilio"), (.recordingActive, true),
                                                     (.metadata("agent"), "zoë"), (.metadata("queue"), .int(3))], at: t),
                          now: t)
        _ = session.apply(input("client:u1", .client, [(.callState, "connected"), (.deviceStatus, "busy")], at: t + 1000,
                                quality: [QualitySample(ts: t + 1000, latency: 80, jitter: 12.5, packetLoss: 0.5,
                                                        source: "client:u1")]), now: t + 1000)
        // Same second, lower rank, other source kind: a conflict (tie).
        let outcome = session.apply(input("backend", .backend, [(.callState, "ringing"), (.metadata("note"), "a \"quoted\" \\ line\n")],
                                          at: t + 1000), now: t + 1100)
        return (session, outcome)
    }

    @Test func stateChangeBytesEqualTheCanonicalEncodingOfTheFrameObject() {
        let (session, outcome) = busySession()
        #expect(!outcome.conflicts.isEmpty)
        let doc = session.document
        let expected = JSONValue.object([
            "type": "state_change",
            "sessionId": .string(session.sessionId),
            "callId": doc.callId.map(JSONValue.string) ?? .null,
            "state": doc.callState.map { .string($0.rawValue) } ?? .null,
            "version": .int(session.version),
            "epoch": .string(session.epoch),
            "changed": .array(outcome.changed.map { .string($0) }),
            "call": doc.json,
            "quality": session.quality.latest?.json ?? .null,
            "conflicts": .array(outcome.conflicts.map(\.json)),
        ])
        let frame = FrameBuilder(headroom: 16).stateChange(session, outcome)
        #expect(frame.text == JSONCodec.encodeString(expected))
    }

    @Test func documentWrittenFromItsFieldsEqualsTheCanonicalEncodingOfItsJSON() {
        var sparse = CallDocument(sessionId: "s-2")
        sparse.quality = QualitySnapshot(mos: nil, latency: 40, jitter: nil, packetLoss: nil, rFactor: nil,
                                         grade: nil, mosSource: nil, ts: 1)
        sparse.recording = Recording(active: false, recordingId: nil, format: "mp3", duration: 12)
        for doc in [busySession().0.document, CallDocument(sessionId: "empty"), sparse] {
            var out: [UInt8] = []
            FrameBuilder.writeDocument(doc, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == JSONCodec.encodeString(doc.json))
        }
    }

    @Test func documentMembersAreListedInCanonicalKeyOrderOnce() {
        let keys = busySession().0.document.canonicalMembers.map(\.key)
        #expect(keys == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(Set(keys).count == keys.count && keys.count == 25)
    }

    @Test func dashboardBatchBytesEqualTheCanonicalEncodingOfRowsThenEvents() {
        let (session, outcome) = busySession()
        let rows = [DashboardFeed.rowMembers(session), DashboardFeed.rowMembers(CallSession(sessionId: "empty", epoch: "E"))]
        let events = outcome.conflicts.map(\.json)
        let frame = FrameBuilder(headroom: 16).batch(rows: rows, events: events)
        let expected = JSONValue.array(rows.map { .object(Dictionary(uniqueKeysWithValues: $0.map { ($0.key, $0.value) })) }
                                       + events)
        #expect(frame.text == JSONCodec.encodeString(expected))
        #expect(FrameBuilder(headroom: 0).batch(rows: [], events: events).text == JSONCodec.encodeString(.array(events)))
        // The row's typed reads agree with the document.
        let doc = session.document
        let row = DashboardFeed.row(session)
        #expect(row["callState"]?.stringValue == doc.callState?.rawValue)
        #expect(row["startedAt"]?.intValue == doc.startedAt && row["answeredAt"]?.intValue == doc.answeredAt)
        #expect(row["provider"]?.stringValue == doc.provider && row["syncStatus"]?.stringValue == doc.syncStatus.rawValue)
        #expect(row["lastSync"]?.intValue == doc.lastSync)
    }
}
