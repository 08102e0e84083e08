import CallState
import Foundation
import Testing
@testable import Store

/// Per-session snapshots (PROTOCOL.md §7, issue 7 §1): a snapshot replaces the
/// entries it covers and restores the exact engine state.
@Suite struct SnapshotTests {
    static func input(_ i: Int) -> Input {
        let ts: Int64 = 1_700_000_000_000 + Int64(i) * 1000
        let state: CallStateValue = [.ringing, .connected, .onHold, .connected][i % 4]
        return Input(kind: "test", source: i % 2 == 0 ? "twilio" : "client:u", sourceKind: i % 2 == 0 ? .provider : .client,
                     eventId: "e\(i)", receivedAt: ts,
                     updates: [Update(field: .callState, value: .string(state.rawValue), ts: ts, source: i % 2 == 0 ? "twilio" : "client:u",
                                      sourceKind: i % 2 == 0 ? .provider : .client, eventId: "e\(i)"),
                               Update(field: .metadata("n"), value: .int(Int64(i)), ts: ts, source: "backend", sourceKind: .backend)],
                     quality: [QualitySample(ts: ts, latency: 40 + Double(i), jitter: 3, packetLoss: 0.1, source: "client:u")])
    }

    @Test func aRestoredSessionContinuesExactlyLikeTheOriginal() throws {
        var original = CallSession(sessionId: "s", epoch: "E1")
        for i in 0..<40 { _ = original.apply(Self.input(i), now: 1_700_000_000_000 + Int64(i) * 1000) }
        var restored = try SessionSnapshot(original).session()
        #expect(restored.document == original.document)
        #expect(restored.version == original.version && restored.epoch == "E1")
        #expect(restored.timeline == original.timeline)
        #expect(restored.quality == original.quality)
        // the dedupe memory came along: a replayed input is still a duplicate
        #expect(restored.apply(Self.input(39), now: 1_700_000_100_000).duplicate)
        for i in 40..<60 {
            let a = original.apply(Self.input(i), now: 1_700_000_000_000 + Int64(i) * 1000)
            let b = restored.apply(Self.input(i), now: 1_700_000_000_000 + Int64(i) * 1000)
            #expect(a.version == b.version)
        }
        #expect(restored.document == original.document)
    }

    @Test(arguments: [false, true])
    func aSnapshotReplacesTheSessionsEntriesAndSurvivesReopen(encrypted: Bool) throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let key = encrypted ? [UInt8](repeating: 7, count: 32) : nil
        var session = CallSession(sessionId: "a", epoch: "EA")
        do {
            let journal = try SQLiteJournal(path: path, encryptionKey: key)
            var entries: [JournalEntry] = []
            for i in 0..<10 {
                _ = session.apply(Self.input(i), now: Self.input(i).receivedAt)
                entries.append(JournalEntry(sessionId: "a", epoch: "EA", input: Self.input(i)))
            }
            entries.append(JournalEntry(sessionId: "b", epoch: "EB", input: Self.input(0)))
            try journal.append(entries)
            try journal.snapshot(SessionSnapshot(session))
            try journal.append([JournalEntry(sessionId: "a", epoch: "EA", input: Self.input(10))])
            journal.close()
        }
        let reopened = try SQLiteJournal(path: path, encryptionKey: key)
        let snapshots = try reopened.loadSnapshots()
        #expect(snapshots.map(\.sessionId) == ["a"])
        #expect(try snapshots[0].session().document == session.document)
        let entries = try reopened.loadAll()
        #expect(entries.map(\.sessionId) == ["b", "a"], "a's first ten entries were replaced; later ones stay")
        if encrypted {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.range(of: Data("client:u".utf8)) == nil)
        }
        try reopened.drop(sessions: ["a"])
        #expect(try reopened.loadSnapshots().isEmpty, "dropping a session drops its snapshot")
    }
}
