#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite
import CallState
import Crypto

/// The durable journal: one SQLite database in WAL mode, fsync'd on every commit.
///
/// Layout (schema version 1):
/// ```
/// meta(key TEXT PRIMARY KEY, value BLOB)          -- schemaVersion, encryption, keyCheck,
///                                                 -- journalId, seqHighWater, compacted
/// entries(seq INTEGER PRIMARY KEY, session TEXT, epoch TEXT, payload BLOB)
/// ```
/// `seq` is assigned here, one per input, never reused: `seqHighWater`
/// remembers the highest one when compaction deletes rows, and `compacted`
/// counts the rows it deleted, so `count(entries) + compacted == lastSeq`
/// holds in every committed state (`JournalInspection` checks it).
/// `payload` is the `InputCodec` JSON of the input; with an encryption key it
/// is `Crypto.aesGCMSeal(key, json, aad: sessionId)` instead, so the PII in
/// it (`from`, `to`, `phoneNumber`, metadata) never reaches the disk in
/// clear, and a payload copied to another session's row fails to open.
/// Session ids and epochs stay in clear: they are needed to find and drop
/// rows, and they are not personal data.
///
/// Durability: `journal_mode=WAL` with `synchronous=FULL` makes SQLite fsync
/// the WAL before `COMMIT` returns, so an appended batch survives a power
/// cut from that moment on. The database is created with
/// `auto_vacuum=INCREMENTAL`, and `drop(sessions:)` gives freed pages back
/// and truncates the WAL, so a steady stream of short sessions does not grow
/// the files without bound. Checkpoints run on a second connection and
/// thread (`WALCheckpointer`), so a commit never waits for one.
///
/// Used from one thread at a time (see `JournalStore`).
public final class SQLiteJournal: JournalStore {
    /// The schema this build writes and reads.
    public static let schemaVersion: Int64 = 1
    /// WAL size, in pages, at which a background checkpoint starts: 32 MiB
    /// at SQLite's 4 KiB pages (see `WALCheckpointer`).
    public static let defaultCheckpointPages = 8000

    /// Plaintext of the key-check row: its only job is to fail to open under another key.
    private static let keyCheckPlaintext = Array("switchboard journal key check v1".utf8)
    private static let keyCheckAAD = Array("keyCheck".utf8)
    /// When a checkpointed WAL starts over, SQLite truncates a larger file
    /// back to this size. Above the 32 MiB a background checkpoint starts at
    /// (`WALCheckpointer`), so the file is reused in place, not cut and grown
    /// again: an fdatasync of a file that grew also commits its new size to
    /// the file system's journal.
    private static let walSizeLimit = 48 * 1024 * 1024

    private var db: OpaquePointer?
    private let path: String
    private let key: [UInt8]?
    private var statements: [SQLiteStatement] = []
    private let insertEntry: SQLiteStatement
    private let deleteSession: SQLiteStatement
    private let selectAll: SQLiteStatement
    private let upsertSnapshot: SQLiteStatement
    private let deleteSnapshot: SQLiteStatement
    private let selectSnapshots: SQLiteStatement
    /// Checkpoints on its own thread, off the commit path.
    private let checkpointer: WALCheckpointer
    /// `meta.journalId`: written into the marker.
    public let journalId: String
    /// Highest sequence number committed (writer thread only; see `progress`).
    private var lastSeq: Int64
    /// Rows deleted by compaction and snapshots, ever (`meta.compacted`).
    private var compacted: Int64
    /// What the marker may vouch for, shared with the checkpoint thread.
    private let progress = Progress()
    /// The outbound webhook outbox (Outbox.swift), written in the same transactions.
    let outbox: OutboxTables
    /// The device registry (Devices.swift), written in its own transactions.
    let devices: DeviceTables

    /// Number of append transactions committed through this instance.
    public private(set) var commitCount = 0

    /// Opens or creates the database at `path`.
    ///
    /// A new database gets WAL mode, `auto_vacuum=INCREMENTAL`, the schema,
    /// its version, and, with a key, a key-check row. An existing one is
    /// checked: schema version, and that the key matches the one it was
    /// created with (or that both have none).
    /// - Parameters:
    ///   - path: the database file (`store.path`); `-wal` and `-shm` files live next to it.
    ///   - encryptionKey: 32 raw bytes (see `parseKey`), or nil for no encryption.
    ///   - checkpointPages: WAL size, in pages, at which a background
    ///     checkpoint starts (see `WALCheckpointer`); tests lower it.
    ///   - checkpointIntervalMs: `store.checkpointIntervalMs`: at most this long
    ///     between a commit and a background checkpoint that covers it; a WAL
    ///     with no commits for this long is truncated to zero. 0: passes start
    ///     only at `checkpointPages`.
    /// - Throws: `StoreError` naming `store.path` (cannot open, not a journal,
    ///   newer schema) or `store.encryptionKey` (wrong key, key missing, key
    ///   given for a plain database).
    public init(path: String, encryptionKey: [UInt8]?,
                checkpointPages: Int = SQLiteJournal.defaultCheckpointPages,
                checkpointIntervalMs: Int = 0) throws(StoreError) {
        if let encryptionKey, encryptionKey.count != 32 {
            throw StoreError(message: "store.encryptionKey must be 32 bytes, got \(encryptionKey.count)")
        }
        self.path = path
        self.key = encryptionKey
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let error = SQLiteStatement.error(handle, rc, "opening")
            sqlite3_close_v2(handle)
            throw StoreError(message: "store.path \(path): cannot open the journal: \(error.message)")
        }
        do {
            try SQLiteJournal.configure(handle, path: path, key: encryptionKey)
            insertEntry = try SQLiteStatement(
                db: handle, sql: "INSERT INTO entries(seq, session, epoch, payload) VALUES (?1, ?2, ?3, ?4)")
            deleteSession = try SQLiteStatement(db: handle, sql: "DELETE FROM entries WHERE session = ?1")
            selectAll = try SQLiteStatement(
                db: handle, sql: "SELECT session, epoch, payload FROM entries ORDER BY seq")
            upsertSnapshot = try SQLiteStatement(
                db: handle, sql: "INSERT OR REPLACE INTO snapshots(session, epoch, payload) VALUES (?1, ?2, ?3)")
            deleteSnapshot = try SQLiteStatement(db: handle, sql: "DELETE FROM snapshots WHERE session = ?1")
            selectSnapshots = try SQLiteStatement(
                db: handle, sql: "SELECT session, epoch, payload FROM snapshots ORDER BY session")
            let counters = try SQLiteJournal.counters(handle)
            journalId = counters.journalId
            lastSeq = counters.lastSeq
            compacted = counters.compacted
            // Everything a previous run left in the WAL goes into the database
            // now, before any input waits: the WAL starts empty.
            // A reader (a running backup) may keep it from completing: harmless.
            sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
            progress.set(lastSeq: lastSeq, prevSeq: lastSeq, checkpointAt: FileIO.nowMs())
            try JournalMarker(journalId: journalId, lastSeq: lastSeq, prevSeq: lastSeq, state: .open,
                              writtenAt: FileIO.nowMs()).write(databasePath: path)
            let progress = self.progress
            let journalId = self.journalId
            checkpointer = try WALCheckpointer(
                path: path, pages: checkpointPages, intervalMs: checkpointIntervalMs) { complete in
                    progress.passFinished(complete: complete, journalId: journalId, path: path)
                }
            outbox = try OutboxTables(db: handle, key: encryptionKey)
            devices = try DeviceTables(db: handle, key: encryptionKey)
        } catch {
            sqlite3_close_v2(handle)
            throw error
        }
        checkpointer.attach(to: handle)
        db = handle
        statements = [insertEntry, deleteSession, selectAll, upsertSnapshot, deleteSnapshot, selectSnapshots]
    }

    deinit { close() }

    /// Closes the database; later calls throw "journal is closed". Safe to call twice.
    public func close() {
        for statement in statements { statement.finalize() }
        statements = []
        outbox.finalize()
        devices.finalize()
        if let db {
            sqlite3_wal_hook(db, nil, nil)
            checkpointer.close()
            // Everything into the database file first; only then may the
            // marker say "clean" (no WAL needed). If a reader keeps the
            // checkpoint from completing, the marker stays "open" and the WAL
            // stays, which the next start accepts.
            var log: Int32 = -1, done: Int32 = -1
            let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_TRUNCATE, &log, &done)
            if rc == SQLITE_OK && log == 0 {
                try? JournalMarker(journalId: journalId, lastSeq: lastSeq, prevSeq: lastSeq, state: .clean,
                                   writtenAt: FileIO.nowMs()).write(databasePath: path)
            } else {
                // The marker stays "open", so the WAL must stay too: SQLite
                // would otherwise checkpoint and delete it on this last close.
                CSQLite_noCheckpointOnClose(db)
            }
            sqlite3_close_v2(db)
        }
        db = nil
    }

    /// WAL checkpoints run so far by the background pass (see `WALCheckpointer`).
    public var backgroundCheckpoints: Int { checkpointer.passCount }

    /// File sizes and ages for `/metrics`; callable from any thread.
    public func health() -> JournalHealth {
        JournalHealth(databaseBytes: FileIO.size(path) ?? 0, walBytes: FileIO.size(path + "-wal") ?? 0,
                      lastCheckpointAt: progress.checkpointAt,
                      lastBackupAt: JournalBackup.lastBackup(databasePath: path)?.at)
    }

    // MARK: Keys

    /// Parses `store.encryptionKey`: 32 bytes as 64 hex digits, or as base64
    /// (standard or URL-safe, padding optional). Surrounding whitespace is
    /// ignored (keys read from `@file` often end with a newline).
    /// - Throws: `StoreError` naming `store.encryptionKey`.
    public static func parseKey(_ text: String) throws(StoreError) -> [UInt8] {
        let trimmed = String(text.unicodeScalars
            .drop(while: { $0.properties.isWhitespace })
            .reversed().drop(while: { $0.properties.isWhitespace }).reversed()
            .map(Character.init))
        if trimmed.utf8.count == 64, let bytes = Crypto.fromHex(trimmed) { return bytes }
        if let bytes = Crypto.base64Decode(trimmed) ?? Crypto.base64URLDecode(trimmed) {
            guard bytes.count == 32 else {
                throw StoreError(message: "store.encryptionKey must be 32 bytes; the base64 text decodes to \(bytes.count)")
            }
            return bytes
        }
        throw StoreError(message: "store.encryptionKey must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)")
    }

    // MARK: JournalStore

    /// Appends the batch in one transaction; on return it is on disk.
    /// - Throws: `StoreError`; the transaction is rolled back, nothing of the batch is stored.
    public func append(_ entries: [JournalEntry]) throws(StoreError) {
        try append(entries, outbox: OutboxWrite())
    }

    /// Appends the batch and applies the outbox write in one transaction:
    /// an event is stored in the same commit as what the reactor derived it
    /// from (see docs/webhooks.md, "Durability").
    public func append(_ entries: [JournalEntry], outbox write: OutboxWrite) throws(StoreError) {
        guard let db else { throw StoreError(message: "journal is closed") }
        if entries.isEmpty && write.isEmpty { return }
        // Encode (and encrypt) before taking the write lock: it cannot fail,
        // and the transaction should hold only the inserts.
        let payloads = entries.map { payload(for: $0) }
        try SQLiteJournal.exec(db, "BEGIN IMMEDIATE")
        var seq = lastSeq
        do {
            for (entry, payload) in zip(entries, payloads) {
                seq += 1
                try insertEntry.bind(1, int: seq)
                try insertEntry.bind(2, text: entry.sessionId)
                try insertEntry.bind(3, text: entry.epoch)
                try insertEntry.bind(4, blob: payload)
                try insertEntry.run()
            }
            try outbox.write(write)
            // The fsync happens here (synchronous=FULL).
            try SQLiteJournal.exec(db, "COMMIT")
        } catch {
            insertEntry.reset()
            // May fail with "no transaction is active" when SQLite already
            // rolled back (e.g. after an I/O error in COMMIT): either way none of it stays.
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
        // One uncontended lock per commit (not per input): the checkpoint
        // thread writes these into the marker.
        progress.committed(lastSeq: seq, prevSeq: lastSeq)
        lastSeq = seq
        commitCount += 1
    }

    /// Every stored entry, in append order, decrypted and decoded.
    /// - Throws: `StoreError` for a row that does not decrypt or decode: a
    ///   journal that cannot be replayed completely must not be served from.
    public func loadAll() throws(StoreError) -> [JournalEntry] {
        guard db != nil else { throw StoreError(message: "journal is closed") }
        defer { selectAll.reset() }
        var entries: [JournalEntry] = []
        while try selectAll.step() {
            let sessionId = selectAll.text(0)
            let epoch = selectAll.text(1)
            var bytes = selectAll.blob(2)
            if let key {
                do {
                    bytes = try Crypto.aesGCMOpen(key: key, sealed: bytes, aad: Array(sessionId.utf8))
                } catch {
                    throw StoreError(message: "store.path \(path): an entry of session \(sessionId) does not decrypt with store.encryptionKey: \(error)")
                }
            }
            let input: Input
            do {
                input = try InputCodec.decode(bytes)
            } catch {
                throw StoreError(message: "store.path \(path): an entry of session \(sessionId): \(error.message)")
            }
            entries.append(JournalEntry(sessionId: sessionId, epoch: epoch, input: input))
        }
        return entries
    }

    /// Deletes the sessions in one transaction, then compacts: freed pages
    /// go back to the file system (`incremental_vacuum`) and the WAL is
    /// checkpointed and truncated, so churn does not grow the files.
    /// - Throws: `StoreError`; when the delete fails nothing is deleted.
    public func drop(sessions: [String]) throws(StoreError) {
        guard let db else { throw StoreError(message: "journal is closed") }
        if sessions.isEmpty { return }
        try SQLiteJournal.exec(db, "BEGIN IMMEDIATE")
        var deleted: Int64 = 0
        do {
            for session in sessions {
                try deleteSession.bind(1, text: session)
                try deleteSession.run()
                deleted += sqlite3_changes64(db)
                try deleteSnapshot.bind(1, text: session)
                try deleteSnapshot.run()
            }
            try recordCompaction(db, deleted: deleted)
            try SQLiteJournal.exec(db, "COMMIT")
        } catch {
            deleteSession.reset()
            deleteSnapshot.reset()
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
        compacted += deleted
        do {
            try compact(db)
        } catch {
            throw StoreError(message: "sessions dropped, but compaction failed: \(error.message)")
        }
    }

    /// Replaces the session's entries with the snapshot in one transaction
    /// (one fsync): a crash leaves either the entries or the snapshot.
    public func snapshot(_ snapshot: SessionSnapshot) throws(StoreError) {
        guard let db else { throw StoreError(message: "journal is closed") }
        let payload = key.map { Crypto.aesGCMSeal(key: $0, plaintext: snapshot.payload, aad: Array(snapshot.sessionId.utf8)) }
            ?? snapshot.payload
        try SQLiteJournal.exec(db, "BEGIN IMMEDIATE")
        var deleted: Int64 = 0
        do {
            try deleteSession.bind(1, text: snapshot.sessionId)
            try deleteSession.run()
            deleted = sqlite3_changes64(db)
            try recordCompaction(db, deleted: deleted)
            try upsertSnapshot.bind(1, text: snapshot.sessionId)
            try upsertSnapshot.bind(2, text: snapshot.epoch)
            try upsertSnapshot.bind(3, blob: payload)
            try upsertSnapshot.run()
            try SQLiteJournal.exec(db, "COMMIT")
        } catch {
            deleteSession.reset()
            upsertSnapshot.reset()
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
        compacted += deleted
    }

    /// Inside a transaction that deleted `deleted` entries: keeps the
    /// sequence high-water mark (a deleted last row must not make its
    /// number look unused) and the count of compacted rows.
    private func recordCompaction(_ db: OpaquePointer, deleted: Int64) throws(StoreError) {
        try SQLiteJournal.setMeta(db, "seqHighWater", Array(String(lastSeq).utf8))
        try SQLiteJournal.setMeta(db, "compacted", Array(String(compacted + deleted).utf8))
    }

    /// Recovery (`JournalRecovery`): stores rows salvaged from a damaged
    /// journal as they were (payloads stay sealed under the same key), in
    /// one transaction, and moves the sequence past everything the damaged
    /// journal had handed out, so no lost number is reused.
    func importSalvaged(entries: [(seq: Int64, session: String, epoch: String, payload: [UInt8])],
                        snapshots: [(session: String, epoch: String, payload: [UInt8])],
                        highWater: Int64) throws(StoreError) {
        guard let db else { throw StoreError(message: "journal is closed") }
        let newLast = max(lastSeq, highWater, entries.map(\.seq).max() ?? 0)
        try SQLiteJournal.exec(db, "BEGIN IMMEDIATE")
        do {
            for entry in entries {
                try insertEntry.bind(1, int: entry.seq)
                try insertEntry.bind(2, text: entry.session)
                try insertEntry.bind(3, text: entry.epoch)
                try insertEntry.bind(4, blob: entry.payload)
                try insertEntry.run()
            }
            for snapshot in snapshots {
                try upsertSnapshot.bind(1, text: snapshot.session)
                try upsertSnapshot.bind(2, text: snapshot.epoch)
                try upsertSnapshot.bind(3, blob: snapshot.payload)
                try upsertSnapshot.run()
            }
            let count = try SQLiteJournal.queryInt(db, "SELECT count(*) FROM entries")
            try SQLiteJournal.setMeta(db, "seqHighWater", Array(String(newLast).utf8))
            try SQLiteJournal.setMeta(db, "compacted", Array(String(newLast - count).utf8))
            try SQLiteJournal.exec(db, "COMMIT")
            compacted = newLast - count
        } catch {
            insertEntry.reset()
            upsertSnapshot.reset()
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
        progress.committed(lastSeq: newLast, prevSeq: newLast)
        lastSeq = newLast
    }

    /// Every snapshot, decrypted.
    public func loadSnapshots() throws(StoreError) -> [SessionSnapshot] {
        guard db != nil else { throw StoreError(message: "journal is closed") }
        defer { selectSnapshots.reset() }
        var snapshots: [SessionSnapshot] = []
        while try selectSnapshots.step() {
            let sessionId = selectSnapshots.text(0)
            var bytes = selectSnapshots.blob(2)
            if let key {
                do {
                    bytes = try Crypto.aesGCMOpen(key: key, sealed: bytes, aad: Array(sessionId.utf8))
                } catch {
                    throw StoreError(message: "store.path \(path): the snapshot of session \(sessionId) does not decrypt with store.encryptionKey: \(error)")
                }
            }
            snapshots.append(SessionSnapshot(sessionId: sessionId, epoch: selectSnapshots.text(1), payload: bytes))
        }
        return snapshots
    }

    private func compact(_ db: OpaquePointer) throws(StoreError) {
        // Runs to completion as its own transaction; moves pages down and
        // shortens the database image (in the WAL until the checkpoint below).
        try SQLiteJournal.exec(db, "PRAGMA incremental_vacuum")
        // TRUNCATE: copy the WAL into the database, fsync, and cut the WAL to
        // zero bytes. A reader (e.g. a running `.backup`) can make it give up
        // early; that is harmless: the next drop or checkpoint pass finishes it.
        try SQLiteJournal.exec(db, "PRAGMA wal_checkpoint(TRUNCATE)")
    }

    // MARK: Size

    /// Bytes on disk: the database plus its WAL (the `-shm` index is a few
    /// KiB of shared memory and not counted).
    public func fileBytes() -> Int {
        SQLiteJournal.size(of: path) + SQLiteJournal.size(of: path + "-wal")
    }

    private static func size(of file: String) -> Int {
        var info = stat()
        guard stat(file, &info) == 0 else { return 0 }
        return Int(info.st_size)
    }

    // MARK: Internals

    private func payload(for entry: JournalEntry) -> [UInt8] {
        let json = InputCodec.encode(entry.input)
        guard let key else { return json }
        return Crypto.aesGCMSeal(key: key, plaintext: json, aad: Array(entry.sessionId.utf8))
    }

    /// Runs SQL that returns no rows we need (pragmas' rows are discarded).
    static func exec(_ db: OpaquePointer, _ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw StoreError(message: "SQLite \(sql): \(text) (code \(rc))")
        }
    }

    /// One integer from a single-row query (pragmas, counts).
    static func queryInt(_ db: OpaquePointer, _ sql: String) throws(StoreError) -> Int64 {
        let statement = try SQLiteStatement(db: db, sql: sql)
        guard try statement.step() else { throw StoreError(message: "SQLite \(sql): no row") }
        return statement.int(0)
    }

    private static func queryText(_ db: OpaquePointer, _ sql: String) throws(StoreError) -> String {
        let statement = try SQLiteStatement(db: db, sql: sql)
        guard try statement.step() else { throw StoreError(message: "SQLite \(sql): no row") }
        return statement.text(0)
    }

    /// The journal's identity and sequence counters. A journal from before
    /// these existed gets them now: a fresh id, and its current rows as the
    /// baseline (`compacted` = what is missing below the highest `seq`).
    private static func counters(_ db: OpaquePointer) throws(StoreError) -> (journalId: String, lastSeq: Int64, compacted: Int64) {
        let maxSeq = try queryInt(db, "SELECT coalesce(max(seq), 0) FROM entries")
        let highWater = try metaInt(db, "seqHighWater") ?? 0
        let lastSeq = max(maxSeq, highWater)
        if let id = try meta(db, "journalId").map({ String(decoding: $0, as: UTF8.self) }),
           let compacted = try metaInt(db, "compacted") {
            return (id, lastSeq, compacted)
        }
        let count = try queryInt(db, "SELECT count(*) FROM entries")
        let id = try meta(db, "journalId").map { String(decoding: $0, as: UTF8.self) } ?? Crypto.hex(Crypto.randomBytes(16))
        try exec(db, "BEGIN IMMEDIATE")
        do {
            try setMeta(db, "journalId", Array(id.utf8))
            try setMeta(db, "seqHighWater", Array(String(lastSeq).utf8))
            try setMeta(db, "compacted", Array(String(lastSeq - count).utf8))
            try exec(db, "COMMIT")
        } catch {
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
        return (id, lastSeq, lastSeq - count)
    }

    static func metaInt(_ db: OpaquePointer, _ key: String) throws(StoreError) -> Int64? {
        try meta(db, key).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }

    static func meta(_ db: OpaquePointer, _ key: String) throws(StoreError) -> [UInt8]? {
        let statement = try SQLiteStatement(db: db, sql: "SELECT value FROM meta WHERE key = ?1")
        try statement.bind(1, text: key)
        guard try statement.step() else { return nil }
        return statement.blob(0)
    }

    static func setMeta(_ db: OpaquePointer, _ key: String, _ value: [UInt8]) throws(StoreError) {
        let statement = try SQLiteStatement(db: db, sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
        try statement.bind(1, text: key)
        try statement.bind(2, blob: value)
        try statement.run()
    }

    /// Pragmas, schema on creation, checks on reopen.
    private static func configure(_ db: OpaquePointer, path: String, key: [UInt8]?) throws(StoreError) {
        // A backup or an operator's sqlite3 shell may hold a lock for a moment.
        sqlite3_busy_timeout(db, 5000)
        let tables: Int64
        do {
            // The first read: fails here for a file that is not a database.
            tables = try queryInt(db, "SELECT count(*) FROM sqlite_master")
        } catch {
            throw StoreError(message: "store.path \(path) is not a usable SQLite database: \(error.message)")
        }
        if tables == 0 {
            // Only possible before the first table exists.
            try exec(db, "PRAGMA auto_vacuum = INCREMENTAL")
        }
        // Persistent in the file; set on every open anyway (cheap, idempotent).
        let mode = try queryText(db, "PRAGMA journal_mode = WAL")
        guard mode.lowercased() == "wal" else {
            throw StoreError(message: "store.path \(path): SQLite refused WAL mode (journal_mode is \(mode))")
        }
        // Per connection: fsync the WAL on every commit.
        try exec(db, "PRAGMA synchronous = FULL")
        try exec(db, "PRAGMA journal_size_limit = \(walSizeLimit)")
        if tables == 0 {
            try create(db, key: key)
        } else {
            try check(db, path: path, key: key)
        }
        // Added after schema 1; harmless when present.
        try exec(db, """
            CREATE TABLE IF NOT EXISTS snapshots(
                session TEXT PRIMARY KEY CHECK (length(session) BETWEEN 1 AND 128),
                epoch TEXT NOT NULL CHECK (length(epoch) > 0),
                payload BLOB NOT NULL) WITHOUT ROWID
            """)
    }

    private static func create(_ db: OpaquePointer, key: [UInt8]?) throws(StoreError) {
        try exec(db, "BEGIN IMMEDIATE")
        do {
            try exec(db, """
                CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
                CREATE TABLE entries(
                    seq INTEGER PRIMARY KEY,
                    session TEXT NOT NULL CHECK (length(session) BETWEEN 1 AND 128),
                    epoch TEXT NOT NULL CHECK (length(epoch) > 0),
                    payload BLOB NOT NULL);
                CREATE INDEX entries_session ON entries(session);
                """)
            try setMeta(db, "schemaVersion", Array(String(schemaVersion).utf8))
            try setMeta(db, "journalId", Array(Crypto.hex(Crypto.randomBytes(16)).utf8))
            try setMeta(db, "seqHighWater", Array("0".utf8))
            try setMeta(db, "compacted", Array("0".utf8))
            if let key {
                try setMeta(db, "encryption", Array("aes-256-gcm".utf8))
                try setMeta(db, "keyCheck", Crypto.aesGCMSeal(key: key, plaintext: keyCheckPlaintext, aad: keyCheckAAD))
            } else {
                try setMeta(db, "encryption", Array("none".utf8))
            }
            try exec(db, "COMMIT")
        } catch {
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    static func check(_ db: OpaquePointer, path: String, key: [UInt8]?) throws(StoreError) {
        let versionBytes: [UInt8]?
        do {
            versionBytes = try meta(db, "schemaVersion")
        } catch {
            throw StoreError(message: "store.path \(path) is a SQLite database but not a Switchboard journal (\(error.message))")
        }
        guard let versionBytes, let version = Int64(String(decoding: versionBytes, as: UTF8.self)) else {
            throw StoreError(message: "store.path \(path) is a SQLite database but not a Switchboard journal (no schema version)")
        }
        guard version == schemaVersion else {
            throw StoreError(message: "store.path \(path) has journal schema version \(version); this build reads version \(schemaVersion)")
        }
        let encryption = try meta(db, "encryption").map { String(decoding: $0, as: UTF8.self) } ?? "none"
        switch (encryption, key) {
        case ("none", nil):
            return
        case ("none", .some):
            throw StoreError(message: "store.encryptionKey is set, but the journal at store.path \(path) was created without encryption; unset store.encryptionKey, or point store.path at a new file")
        case (_, nil):
            throw StoreError(message: "the journal at store.path \(path) is encrypted: set store.encryptionKey to the key it was created with")
        case (_, let key?):
            guard let sealed = try meta(db, "keyCheck") else {
                throw StoreError(message: "the journal at store.path \(path) is marked encrypted but has no key check row")
            }
            do {
                _ = try Crypto.aesGCMOpen(key: key, sealed: sealed, aad: keyCheckAAD)
            } catch {
                throw StoreError(message: "store.encryptionKey does not match the key the journal at store.path \(path) was created with")
            }
        }
    }
}
