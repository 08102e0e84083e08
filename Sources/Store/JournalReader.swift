#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite
import CallState
import Crypto

/// A read-only connection to a journal, for checks, salvage and backups.
///
/// It never changes the journal's files: opened `SQLITE_OPEN_READONLY`
/// with no checkpoint on close, so a damaged WAL stays as found (SQLite
/// rebuilds only the `-shm` index). Works beside a running hub (WAL readers
/// do not block the writer).
final class JournalReader {
    let db: OpaquePointer
    let path: String

    /// - Throws: `StoreError` when the file cannot be opened as SQLite.
    /// `-wal` / `-shm` files this connection created: removed again on
    /// close, so a missing WAL stays missing for the next check.
    private let created: [String]

    init(path: String) throws(StoreError) {
        self.path = path
        created = ["-wal", "-shm"].map { path + $0 }.filter { !FileIO.exists($0) }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let error = SQLiteStatement.error(handle, rc, "opening")
            sqlite3_close_v2(handle)
            throw StoreError(message: "store.path \(path): cannot open the journal: \(error.message)")
        }
        CSQLite_noCheckpointOnClose(handle)
        sqlite3_busy_timeout(handle, 5000)
        db = handle
    }

    deinit {
        sqlite3_close_v2(db)
        for file in created where (FileIO.size(file) ?? 0) == 0 || file.hasSuffix("-shm") {
            // Only when the WAL this connection made is still empty: then nobody else wrote to it.
            if (FileIO.size(path + "-wal") ?? 0) == 0 { unlink(file) }
        }
    }

    /// `PRAGMA integrity_check` (full) or `quick_check`: empty when "ok",
    /// else SQLite's first complaints.
    func integrityProblems(full: Bool) -> [String] {
        do {
            let statement = try SQLiteStatement(db: db, sql: full ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)")
            var lines: [String] = []
            while try statement.step() { lines.append(statement.text(0)) }
            return lines == ["ok"] ? [] : lines
        } catch {
            return [error.message]
        }
    }

    func int(_ sql: String) throws(StoreError) -> Int64 { try SQLiteJournal.queryInt(db, sql) }
    func metaInt(_ key: String) throws(StoreError) -> Int64? { try SQLiteJournal.metaInt(db, key) }
    func metaText(_ key: String) throws(StoreError) -> String? {
        try SQLiteJournal.meta(db, key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the `snapshots` table exists (journals from before it have none).
    func hasSnapshots() throws(StoreError) -> Bool {
        try int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'") > 0
    }

    /// Every entry row as stored, in `seq` order. Stops with the error of a
    /// row that cannot be read (a damaged page): rows before it were delivered.
    func rows(_ body: (_ seq: Int64, _ session: String, _ epoch: String, _ payload: [UInt8]) -> Void) throws(StoreError) {
        let statement = try SQLiteStatement(db: db, sql: "SELECT seq, session, epoch, payload FROM entries ORDER BY seq")
        while try statement.step() {
            body(statement.int(0), statement.text(1), statement.text(2), statement.blob(3))
        }
    }

    /// Every snapshot row as stored.
    func snapshots(_ body: (_ session: String, _ epoch: String, _ payload: [UInt8]) -> Void) throws(StoreError) {
        guard try hasSnapshots() else { return }
        let statement = try SQLiteStatement(db: db, sql: "SELECT session, epoch, payload FROM snapshots ORDER BY session")
        while try statement.step() { body(statement.text(0), statement.text(1), statement.blob(2)) }
    }

    /// Opens an entry's payload: decrypts (with the session as associated
    /// data) and decodes it, the way `loadAll()` does.
    static func decode(session: String, payload: [UInt8], key: [UInt8]?) throws(StoreError) -> Input {
        var bytes = payload
        if let key {
            do {
                bytes = try Crypto.aesGCMOpen(key: key, sealed: bytes, aad: Array(session.utf8))
            } catch {
                throw StoreError(message: "does not decrypt with store.encryptionKey")
            }
        }
        return try InputCodec.decode(bytes)
    }

    /// Opens a snapshot's payload and decodes the session in it.
    static func decodeSnapshot(session: String, epoch: String, payload: [UInt8], key: [UInt8]?) throws(StoreError) {
        var bytes = payload
        if let key {
            do {
                bytes = try Crypto.aesGCMOpen(key: key, sealed: bytes, aad: Array(session.utf8))
            } catch {
                throw StoreError(message: "does not decrypt with store.encryptionKey")
            }
        }
        _ = try SessionSnapshot(sessionId: session, epoch: epoch, payload: bytes).session()
    }
}
