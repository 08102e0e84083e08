import CallState
import Foundation
import Testing
@testable import Store

/// The cluster log's record encoding and the parsing around it (no Redis
/// needed; ClusterTests run the real one).
@Suite struct RedisLogCodingTests {
    /// A stream entry as XRANGE returns it: `[id, [field, value, …]]`.
    static func reply(_ id: String, _ record: ClusterRecord) -> RedisReply {
        .array([.string(Array(id.utf8)), .array(RedisLog.fields(record).map { .string($0) })])
    }

    @Test func everyRecordKindSurvivesTheStreamEncoding() {
        let records: [ClusterRecord] = [
            .input(origin: "node-a/x1", token: 42, entry: Fixtures.entry(7, session: "call-1", epoch: "00ab")),
            .tick(sessionId: "call-1", at: 1_796_000_000_123),
            .drop(sessionId: "call-1"),
        ]
        for record in records {
            #expect(RedisLog.parse(Self.reply("1700000000000-3", record)) == ClusterLogEntry(id: "1700000000000-3", record: record))
        }
    }

    @Test func unknownOrIncompleteEntriesAreSkippedNotMisread() {
        let unknown = RedisReply.array([.string(Array("1-0".utf8)), .array([.string(Array("k".utf8)), .string(Array("future".utf8)),
                                                                              .string(Array("s".utf8)), .string(Array("x".utf8))])])
        #expect(RedisLog.parse(unknown) == nil)
        var fields = RedisLog.fields(.input(origin: "n", token: 1, entry: Fixtures.entry(1)))
        fields.removeLast(2)  // no input bytes
        #expect(RedisLog.parse(.array([.string(Array("1-0".utf8)), .array(fields.map { .string($0) })])) == nil)
    }

    @Test func streamIdsCompareAsNumbersNotText() {
        #expect(RedisLog.isAfter("10-0", "9-5"))
        #expect(RedisLog.isAfter("9-10", "9-9"))
        #expect(!RedisLog.isAfter("9-9", "9-9"))
        #expect(!RedisLog.isAfter("1700000000000-0", "1700000000001-0"))
    }

    @Test func storeURLsParseWithTheirDefaults() throws {
        func parts(_ text: String) -> [String]? {
            RedisURL(text).map { [$0.host, String($0.port), String($0.db), $0.password ?? "-"] }
        }
        #expect(parts("redis://127.0.0.1:6379/0") == ["127.0.0.1", "6379", "0", "-"])
        #expect(parts("redis://cache") == ["cache", "6379", "0", "-"])
        #expect(parts("redis://:s3cret@10.0.0.2:7000/3") == ["10.0.0.2", "7000", "3", "s3cret"])
        #expect(parts("http://127.0.0.1:6379") == nil)
        #expect(parts("redis://host:notaport") == nil)
        #expect(parts("redis://host/x") == nil)
    }
}

/// Snapshots (SQLite journal and cluster checkpoints) written before a field
/// was added still restore: the new field's register starts unset.
@Suite struct SnapshotUpgradeTests {
    @Test func aSnapshotFromBeforeCalleeSubRestoresAndReadsTheDocument() throws {
        var session = CallSession(sessionId: "old", epoch: "e1", config: MergeConfig())
        _ = session.apply(Fixtures.input(1, session: "old"), now: 1_700_000_000_100)
        let current = SessionSnapshot(session)
        // The same payload as a build without the last scalar field wrote it.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(current.payload)) as? [String: Any])
        var scalars = try #require(json["scalars"] as? [Any])
        scalars.removeLast()
        json["scalars"] = scalars
        let older = SessionSnapshot(sessionId: "old", epoch: "e1", payload: [UInt8](try JSONSerialization.data(withJSONObject: json)))
        let restored = try older.session()
        #expect(restored.document.json == session.document.json)
        #expect(restored.version == session.version)
    }
}
