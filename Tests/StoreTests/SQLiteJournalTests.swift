#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CallState
import Store
import Testing

@Suite("SQLiteJournal")
struct SQLiteJournalTests {
    @Test func appendedEntriesComeBackInOrderAfterReopen() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        var written: [JournalEntry] = []
        do {
            let journal = try SQLiteJournal(path: path, encryptionKey: nil)
            // Interleaved sessions over several transactions: order is append order, not per session.
            for batch in 0..<5 {
                let entries = (0..<7).map { i in
                    Fixtures.entry(batch * 7 + i, session: "s\(i % 3)", epoch: "ep-\(i % 3)")
                }
                try journal.append(entries)
                written += entries
            }
            #expect(journal.commitCount == 5)
            #expect(try journal.loadAll() == written)
            journal.close()
        }
        let reopened = try SQLiteJournal(path: path, encryptionKey: nil)
        #expect(try reopened.loadAll() == written)
        #expect(reopened.commitCount == 0)
    }

    @Test func aFailedBatchStoresNothing() throws {
        let dir = TempDir()
        let journal = try SQLiteJournal(path: dir.file("journal.db"), encryptionKey: nil)
        try journal.append([Fixtures.entry(0)])
        // The second row breaks the schema's CHECK (session ids are 1-128 characters)
        // after the first row of the batch was already inserted.
        let bad = JournalEntry(sessionId: "", epoch: "ep1", input: Fixtures.input(2))
        #expect(throws: StoreError.self) { try journal.append([Fixtures.entry(1), bad, Fixtures.entry(3)]) }
        #expect(try journal.loadAll() == [Fixtures.entry(0)])
        #expect(journal.commitCount == 1)
        // The connection is usable again afterwards.
        try journal.append([Fixtures.entry(4)])
        #expect(try journal.loadAll() == [Fixtures.entry(0), Fixtures.entry(4)])
    }

    /// Hundreds of commits take the WAL past the (lowered) checkpoint size
    /// many times, and past four times it, where the writer checkpoints
    /// itself: the copy back into the database runs on the checkpoint thread
    /// while appends go on, the WAL does not grow past the bound, and every
    /// entry is there after a reopen.
    @Test func checkpointsRunBesideCommitsKeepTheWALBoundedAndLoseNothing() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        var written: [JournalEntry] = []
        do {
            let journal = try SQLiteJournal(path: path, encryptionKey: nil, checkpointPages: 50)
            var largestWAL = 0
            for batch in 0..<800 {
                // Two sessions per commit: a table page and index pages each time.
                let entries = [Fixtures.entry(2 * batch, session: "s\(batch % 50)"),
                               Fixtures.entry(2 * batch + 1, session: "t\(batch % 50)")]
                try journal.append(entries)
                written += entries
                largestWAL = max(largestWAL, Self.fileSize(path + "-wal"))
            }
            // 4 × 50 pages of 4 KiB plus headers, and the last commit's pages.
            #expect(largestWAL < 210 * 4_120 + 64 * 4_120)
            var waited = 0
            while journal.backgroundCheckpoints == 0 && waited < 500 {
                usleep(10_000)
                waited += 1
            }
            #expect(journal.backgroundCheckpoints > 0)
            #expect(try journal.loadAll() == written)
            journal.close()
        }
        #expect(try SQLiteJournal(path: path, encryptionKey: nil).loadAll() == written)
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    @Test func appendToAClosedJournalThrows() throws {
        let dir = TempDir()
        let journal = try SQLiteJournal(path: dir.file("journal.db"), encryptionKey: nil)
        journal.close()
        #expect(throws: StoreError.self) { try journal.append([Fixtures.entry(0)]) }
        #expect(throws: StoreError.self) { try journal.loadAll() }
        #expect(throws: StoreError.self) { try journal.drop(sessions: ["s1"]) }
    }

    @Test func dropRemovesOnlyTheNamedSessions() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let journal = try SQLiteJournal(path: path, encryptionKey: nil)
        let entries = (0..<12).map { Fixtures.entry($0, session: "s\($0 % 4)") }
        try journal.append(entries)
        try journal.drop(sessions: ["s1", "s3", "never-existed"])
        let kept = entries.filter { $0.sessionId == "s0" || $0.sessionId == "s2" }
        #expect(try journal.loadAll() == kept)
        journal.close()
        #expect(try SQLiteJournal(path: path, encryptionKey: nil).loadAll() == kept)
    }

    @Test func unusablePathsNameStorePath() throws {
        let dir = TempDir()
        #expect {
            _ = try SQLiteJournal(path: dir.file("missing-dir/journal.db"), encryptionKey: nil)
        } throws: { error in
            (error as? StoreError)?.message.contains("store.path") == true
        }
        let notADatabase = dir.file("junk.db")
        try Array(repeating: "this is not sqlite ", count: 300).joined().write(toFile: notADatabase, atomically: true, encoding: .utf8)
        #expect {
            _ = try SQLiteJournal(path: notADatabase, encryptionKey: nil)
        } throws: { error in
            (error as? StoreError)?.message.contains("store.path") == true
        }
    }
}
