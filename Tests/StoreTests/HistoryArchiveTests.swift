import CallState
import Foundation
import JSONCodec
import Testing
@testable import Store

/// The archive's SQL on its own (PROTOCOL.md §12): filters, paging, erasure,
/// pruning and encryption at rest. The hub-level behaviour is HistoryTests.
@Suite struct HistoryArchiveTests {
    static func call(_ id: String, endedAt: Int64, calleeSub: String? = nil, provider: String = "twilio",
                     search: String? = nil) -> ArchivedCall {
        let summary = JSONCodec.encode(.object(["sessionId": .string(id), "from": "+15550100"]))
        return ArchivedCall(sessionId: id, epoch: "e-\(id)", endedAt: endedAt, startedAt: endedAt - 1000,
                            provider: provider, direction: "inbound", grade: "good", state: "ended",
                            calleeSub: calleeSub, mos: 4.1, mosAvg: 4.0, warnings: [],
                            search: search ?? id.lowercased(), summary: summary, document: summary,
                            timeline: Array("[]".utf8), conflicts: Array("[]".utf8))
    }

    static func ids(_ page: HistoryPage) -> [String] { page.calls.compactMap { $0["sessionId"]?.stringValue } }

    @Test func calleeSubAndProviderFiltersUseTheirColumns() throws {
        let archive = try HistoryArchive(path: ":memory:", encryptionKey: nil)
        try archive.transaction { () throws(StoreError) in
            try archive.put(Self.call("a", endedAt: 10, calleeSub: "alice"))
            try archive.put(Self.call("b", endedAt: 20, calleeSub: "bob", provider: "telnyx"))
            try archive.put(Self.call("c", endedAt: 30, calleeSub: "alice", provider: "telnyx"))
        }
        #expect(Self.ids(try archive.page(HistoryQuery(calleeSub: "alice"))) == ["c", "a"])
        #expect(Self.ids(try archive.page(HistoryQuery(provider: "telnyx", calleeSub: "alice"))) == ["c"])
        #expect(Self.ids(try archive.page(HistoryQuery(limit: 2, after: (30, "c")))) == ["b", "a"])
    }

    @Test func qIsASubstringNotALikePattern() throws {
        let archive = try HistoryArchive(path: ":memory:", encryptionKey: nil)
        try archive.transaction { () throws(StoreError) in
            try archive.put(Self.call("x1", endedAt: 1, search: "x1\n100%"))
            try archive.put(Self.call("x2", endedAt: 2, search: "x2\n1000"))
            try archive.put(Self.call("x3", endedAt: 3, search: "x3\nwe[ird*?"))
        }
        #expect(Self.ids(try archive.page(HistoryQuery(q: "100%"))) == ["x1"], "% matches itself")
        #expect(Self.ids(try archive.page(HistoryQuery(q: "0*"))).isEmpty, "* matches itself, not anything")
        #expect(Self.ids(try archive.page(HistoryQuery(q: "x?"))).isEmpty, "? matches itself")
        #expect(Self.ids(try archive.page(HistoryQuery(q: "X"))) == ["x3", "x2", "x1"], "case-insensitive")
        #expect(Self.ids(try archive.page(HistoryQuery(q: "E[IRD*?"))) == ["x3"], "[, * and ? match themselves")
    }

    @Test func eraseAndPruneRemoveCallsAndSamples() throws {
        let archive = try HistoryArchive(path: ":memory:", encryptionKey: nil)
        let point = QualityPoint(sessionId: "old", epoch: "e-old", version: 1, ts: 1, mos: 4, latency: 1, jitter: 1,
                                 packetLoss: 0, warnings: ["low-mos"])
        try archive.transaction { () throws(StoreError) in
            try archive.add([point, QualityPoint(sessionId: "new", epoch: "e-new", version: 1, ts: 1, mos: nil,
                                                 latency: nil, jitter: 2, packetLoss: nil, warnings: [])])
            try archive.put(Self.call("old", endedAt: 100))
            try archive.put(Self.call("new", endedAt: 900))
        }
        #expect(try archive.samples("old", epoch: "e-old") == [point])
        #expect(try archive.summaryRows(from: nil, to: nil).first?.warnings == ["low-mos"], "warnings of the samples count")
        #expect(try archive.prune(before: 500) == 1)
        #expect(try archive.call("old") == nil)
        #expect(try archive.samples("old", epoch: "e-old").isEmpty)
        #expect(try archive.erase("new"))
        #expect(try !archive.erase("new"))
        #expect(try archive.count() == 0)
    }

    @Test func withAKeyTheDocumentIsNotStoredInClear() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hist-\(UUID().uuidString).db").path
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let key = [UInt8](repeating: 7, count: 32)
        do {
            let archive = try HistoryArchive(path: path, encryptionKey: key)
            try archive.transaction { () throws(StoreError) in try archive.put(Self.call("secret", endedAt: 5)) }
            #expect(try archive.call("secret")?.document["from"]?.stringValue == "+15550100")
        }
        var bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        bytes += (try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data()
        #expect(!bytes.isEmpty)
        #expect(bytes.range(of: Data("+15550100".utf8)) == nil, "the number never reaches the disk in clear")
        let other = try HistoryArchive(path: path, encryptionKey: [UInt8](repeating: 8, count: 32))
        #expect(throws: StoreError.self) { _ = try other.call("secret") }
    }
}
