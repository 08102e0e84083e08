import Store
import Testing

@Suite("SQLiteJournal compaction")
struct CompactionTests {
    /// 2,000 short sessions, appended and dropped in rounds of 200, next to
    /// longer ones that live across two rounds: once the live set is steady,
    /// the files must level off, not grow with the total ever written.
    @Test func appendDropChurnKeepsTheFilesBounded() throws {
        let dir = TempDir()
        let journal = try SQLiteJournal(path: dir.file("journal.db"), encryptionKey: Array(repeating: 7, count: 32))
        var sizes: [Int] = []
        var counter = 0
        for round in 0..<10 {
            let sessions = (0..<200).map { "r\(round)-s\($0)" }
            // Five inputs per call (initiated … ended), committed in groups like the writer does.
            for chunk in stride(from: 0, to: sessions.count, by: 20) {
                var batch: [JournalEntry] = []
                for session in sessions[chunk..<chunk + 20] {
                    for _ in 0..<5 {
                        batch.append(Fixtures.entry(counter, session: session))
                        counter += 1
                    }
                }
                batch.append(Fixtures.entry(counter, session: "long-\(round)"))
                counter += 1
                try journal.append(batch)
            }
            var ended = sessions
            if round >= 2 { ended.append("long-\(round - 2)") }
            try journal.drop(sessions: ended)
            sizes.append(journal.fileBytes())
        }
        // Each round writes ~1,000 entries (several hundred KiB of pages and WAL).
        let peak = try #require(sizes.max())
        #expect(peak < 256 * 1024, "sizes per round: \(sizes)")
        // No creep once the live set is steady (two long sessions of 10 entries each).
        let steady = sizes[2...]
        #expect(try #require(steady.max()) - (try #require(steady.min())) <= 8 * 1024, "sizes per round: \(sizes)")
        #expect(try journal.loadAll().count == 20)
    }
}
