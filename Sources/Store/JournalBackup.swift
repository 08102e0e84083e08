#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite
import JSONCodec

/// `switchboard journal backup` and `journal restore`.
///
/// A backup is SQLite's online backup API from a read-only connection: it
/// copies one consistent snapshot (every commit that finished before the
/// copy's read began) while the hub keeps writing, into a temporary file
/// that is checked, fsync'd and renamed into place. A stamp beside the
/// journal (`<store.path>.last-backup`) records when, for `/metrics`.
public enum JournalBackup {
    /// What a backup holds.
    public struct Result: Sendable {
        public var lastSeq: Int64
        public var entries: Int
        public var sessions: Int
        public var bytes: Int
    }

    /// Copies the journal at `path` to `destination` while the hub may run.
    /// - Throws: `StoreError` when the copy cannot be made or does not check out.
    public static func backup(path: String, to destination: String, key: [UInt8]?) throws(StoreError) -> Result {
        guard FileIO.exists(path) else { throw StoreError(message: "store.path \(path): no journal to back up") }
        let source = try JournalReader(path: path)
        let temp = destination + ".tmp"
        unlink(temp)
        unlink(temp + "-journal")
        var handle: OpaquePointer?
        guard sqlite3_open_v2(temp, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let dest = handle else {
            sqlite3_close_v2(handle)
            throw StoreError(message: "cannot create \(temp)")
        }
        guard let backup = sqlite3_backup_init(dest, "main", source.db, "main") else {
            let error = SQLiteStatement.error(dest, sqlite3_errcode(dest), "starting the backup")
            sqlite3_close_v2(dest)
            throw error
        }
        // All pages in one step: one read transaction, so one consistent
        // snapshot; a WAL reader does not hold up the hub's writer.
        let step = sqlite3_backup_step(backup, -1)
        let finish = sqlite3_backup_finish(backup)
        let closed = sqlite3_close_v2(dest)
        guard step == SQLITE_DONE, finish == SQLITE_OK, closed == SQLITE_OK else {
            unlink(temp)
            throw StoreError(message: "backup of \(path) to \(destination) failed (SQLite codes \(step), \(finish), \(closed))")
        }
        let report = JournalInspection.inspect(path: temp, key: key, full: true)
        guard report.isHealthy else {
            unlink(temp)
            throw StoreError(message: "the backup copy does not check out: \(report.problems.joined(separator: "; "))")
        }
        try syncFile(temp)
        guard rename(temp, destination) == 0 else { throw StoreError(message: "cannot rename \(temp) to \(destination): errno \(errno)") }
        try FileIO.syncDirectory(FileIO.directory(of: destination))
        let at = FileIO.nowMs()
        var stamp: [UInt8] = []
        JSONCodec.write(.object(["at": .int(at), "lastSeq": .int(report.lastSeq), "to": .string(destination)]), into: &stamp)
        try FileIO.replaceDurably(stampPath(path), with: stamp + [UInt8(ascii: "\n")])
        return Result(lastSeq: report.lastSeq, entries: report.entries, sessions: report.sessions,
                      bytes: FileIO.size(destination) ?? 0)
    }

    /// Puts a backup in place of the journal at `path`. The hub must be
    /// stopped. The current files are moved aside (never deleted) into
    /// `<store.path>.replaced-<UTC time>/`, and a new marker is written for
    /// the restored journal, so the next start accepts it.
    /// - Returns: the directory the replaced files went to (nil when there were none).
    public static func restore(from backup: String, to path: String, key: [UInt8]?) throws(StoreError) -> (aside: String?, report: JournalReport) {
        let report = JournalInspection.inspect(path: backup, key: key, full: true)
        guard !report.fresh else { throw StoreError(message: "\(backup) is not a journal backup") }
        guard report.isHealthy else {
            throw StoreError(message: "the backup \(backup) does not check out: \(report.problems.joined(separator: "; "))")
        }
        let aside = try JournalRecovery.moveAside(path: path, suffix: "replaced")
        let temp = path + ".restore.tmp"
        try FileIO.copy(backup, to: temp)
        guard rename(temp, path) == 0 else { throw StoreError(message: "cannot rename \(temp) to \(path): errno \(errno)") }
        try FileIO.syncDirectory(FileIO.directory(of: path))
        // Opening writes the marker for this journal; closing marks it clean.
        let journal = try SQLiteJournal(path: path, encryptionKey: key)
        journal.close()
        return (aside, report)
    }

    /// When the last backup of the journal at `databasePath` completed, from its stamp.
    public static func lastBackup(databasePath: String) -> (at: Int64, destination: String)? {
        guard let bytes = FileIO.read(stampPath(databasePath)),
              let object = (try? JSONCodec.parse(bytes))?.objectValue,
              let at = object["at"]?.intValue else { return nil }
        return (at, object["to"]?.stringValue ?? "")
    }

    static func stampPath(_ databasePath: String) -> String { databasePath + ".last-backup" }

    private static func syncFile(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError(message: "cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StoreError(message: "fsync of \(path) failed: errno \(errno)") }
    }
}
