import CallState
import Foundation
import Store
import Testing

/// The pieces behind issue 20, on the Store module alone: the marker, the
/// sequence the inspection relies on, and the WAL scan's verdicts.
@Suite("Journal integrity")
struct JournalIntegrityStoreTests {
    @Test func compactionKeepsTheSequenceContinuousAndNumbersAreNeverReused() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let journal = try SQLiteJournal(path: path, encryptionKey: nil)
        for n in 0..<10 { try journal.append([Fixtures.entry(n, session: "s1")]) }
        try journal.append((10..<15).map { Fixtures.entry($0, session: "s2") })
        // A snapshot replaces s2's rows; retention drops s1's, the newest numbers among them.
        try journal.snapshot(SessionSnapshot(CallSession(sessionId: "s2", epoch: "ep1", config: MergeConfig())))
        try journal.drop(sessions: ["s1"])
        try journal.append((20..<23).map { Fixtures.entry($0, session: "s3") })
        journal.close()

        let report = JournalInspection.inspect(path: path, key: nil, full: true)
        #expect(report.isHealthy, "\(report.problems)")
        #expect(report.lastSeq == 18, "1…15 handed out before compaction, 16…18 after: none reused")
        #expect(report.entries == 3)
        #expect(report.snapshots == 1)
        #expect(report.markerSeq == 18, "a clean close leaves the marker at the last commit")
    }

    @Test func aRowDeletedBehindTheJournalsBackBreaksContinuity() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let journal = try SQLiteJournal(path: path, encryptionKey: nil)
        for n in 0..<6 { try journal.append([Fixtures.entry(n)]) }
        journal.close()
        let run = try Process.run(URL(fileURLWithPath: "/usr/bin/sqlite3"), arguments: [path, "DELETE FROM entries WHERE seq = 3"])
        run.waitUntilExit()
        let report = JournalInspection.inspect(path: path, key: nil)
        #expect(report.problems.contains { $0.contains("1 entries are missing from the sequence") }, "\(report.problems)")
    }

    @Test func theMarkerFailsItsChecksumWhenTornOrEdited() throws {
        let dir = TempDir()
        let path = dir.file("journal.db")
        let marker = JournalMarker(journalId: "abc", lastSeq: 41, prevSeq: 40, state: .open, writtenAt: 1)
        try marker.write(databasePath: path)
        #expect(JournalMarker.read(databasePath: path) == .found(marker))
        let file = JournalMarker.path(for: path)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: #""lastSeq":41"#, with: #""lastSeq":4"#).write(toFile: file, atomically: false, encoding: .utf8)
        guard case .unreadable = JournalMarker.read(databasePath: path) else {
            Issue.record("an edited marker must not vouch for less")
            return
        }
        try String(text.prefix(40)).write(toFile: file, atomically: false, encoding: .utf8)
        guard case .unreadable = JournalMarker.read(databasePath: path) else {
            Issue.record("a torn marker must not be read")
            return
        }
    }

    /// 30 one-input commits kept in the WAL, copied as a crash would leave them.
    static func crashedCopy(_ dir: TempDir) throws -> String {
        let live = dir.file("live.db")
        let journal = try SQLiteJournal(path: live, encryptionKey: nil, checkpointIntervalMs: 0)
        for n in 0..<30 { try journal.append([Fixtures.entry(n, session: "s\(n % 3)")]) }
        let copy = dir.file("copy.db")
        for suffix in ["", "-wal", ".marker"] {
            try FileManager.default.copyItem(atPath: live + suffix, toPath: copy + suffix)
        }
        journal.close()
        return copy
    }

    @Test func aTornLastCommitIsANoteNotDamage() throws {
        let dir = TempDir()
        let copy = try Self.crashedCopy(dir)
        let wal = FileHandle(forUpdatingAtPath: copy + "-wal")!
        let size = wal.seekToEndOfFile()
        wal.truncateFile(atOffset: size - 100)
        wal.closeFile()
        let report = JournalInspection.inspect(path: copy, key: nil)
        #expect(report.isHealthy, "\(report.problems)")
        #expect(report.entries == 29)
        #expect(report.notes.contains { $0.contains("torn") })
    }

    @Test func aFrameHeaderDamagedInTheMiddleOfTheWALIsDamage() throws {
        let dir = TempDir()
        let copy = try Self.crashedCopy(dir)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: copy + "-wal"))
        let frames = (bytes.count - 32) / (24 + 4096)
        let header = 32 + (frames / 2) * (24 + 4096)
        for i in 0..<24 { bytes[header + i] = 0xA5 }  // salts and checksums of one frame
        try bytes.write(to: URL(fileURLWithPath: copy + "-wal"))
        let report = JournalInspection.inspect(path: copy, key: nil)
        #expect(report.problems.contains { $0.contains("the WAL is damaged at byte") }, "\(report.problems)")
        #expect(report.lostRows.contains { $0.why.contains("unreadable part of the WAL") }, "the lost inputs are named")
    }

    @Test func aDamagedWALHeaderIsDamage() throws {
        let dir = TempDir()
        let copy = try Self.crashedCopy(dir)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: copy + "-wal"))
        bytes[17] ^= 0xFF  // salt-1: the header checksum no longer matches
        try bytes.write(to: URL(fileURLWithPath: copy + "-wal"))
        let report = JournalInspection.inspect(path: copy, key: nil)
        #expect(report.problems.contains { $0.contains("WAL header is damaged") }, "\(report.problems)")
    }
}
