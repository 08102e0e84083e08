import CSQLite
import CallState
import Crypto
import JSONCodec

/// The call archive (PROTOCOL.md §12): every ended call and every quality
/// sample, in a SQLite database of its own.
///
/// Layout:
/// ```
/// calls(id INTEGER PRIMARY KEY, session UNIQUE, epoch, ended_at, started_at, provider, direction, grade,
///       state, callee_sub, mos, mos_avg, warnings, search, summary, document, timeline, conflicts)
///   indexes (ended_at, session), (provider|grade|state|callee_sub, ended_at, session)
/// samples(session, epoch, version, ts, mos, latency, jitter, loss, warnings)
///   PRIMARY KEY (session, epoch, version), WITHOUT ROWID
/// ```
/// Why a file beside the journal and not tables in it: the journal's file is
/// vouched for by its marker and WAL scan (docs/durability.md) and every one
/// of its commits is on an input's acknowledgement path; the archive grows
/// with every call for `history.retentionDays` and is written off that path.
///
/// Every filter of `GET /api/history` has an index whose last columns are
/// `(ended_at, session)`, the page order, so a page is an index range scan
/// that stops after `limit` rows (cursor paging by `(ended_at, session)`);
/// `q` goes through an FTS5 trigram index of each call's identifiers
/// (`calls_search`, keyed by `calls.id`: an explicit INTEGER PRIMARY KEY,
/// so a VACUUM cannot renumber it); the fleet summary reads a
/// covering index only.
/// Samples are kept as rows, every one of them; downsampling to
/// `history.qualityPoints` happens when they are read (`HistorySummary.series` in Hub).
///
/// With an encryption key (`store.encryptionKey`) the JSON blobs (which hold
/// `from`, `to`, `phoneNumber`, metadata) are AES-256-GCM sealed with the
/// session id as additional data, as the journal's payloads are; the
/// indexed columns are ids, grades and states, not personal data.
///
/// Used from one thread at a time: the `HistoryWriter`'s.
public final class HistoryArchive {
    private var db: OpaquePointer?
    private let key: [UInt8]?
    private let upsertCall: SQLiteStatement
    private let insertSample: SQLiteStatement
    private let deleteOtherEpochs: SQLiteStatement
    private let deleteCall: SQLiteStatement
    private let deleteSamples: SQLiteStatement
    private let selectCall: SQLiteStatement
    private let selectSamples: SQLiteStatement
    private let selectOldSessions: SQLiteStatement
    private let selectSampleWarnings: SQLiteStatement
    private let selectRowid: SQLiteStatement
    private let deleteSearch: SQLiteStatement
    private let insertSearch: SQLiteStatement

    /// Opens or creates the archive.
    /// - Parameters:
    ///   - path: the database file, or `:memory:` (`store.kind` memory).
    ///   - encryptionKey: 32 bytes, or nil.
    public init(path: String, encryptionKey: [UInt8]?) throws(StoreError) {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let error = SQLiteStatement.error(handle, rc, "opening")
            sqlite3_close_v2(handle)
            throw StoreError(message: "history archive \(path): \(error.message)")
        }
        db = handle
        key = encryptionKey
        do {
            // FULL: the archive must hold a call before the journal forgets it
            // (retention); commits are batched, so the fsync is shared.
            for sql in [
                "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=OFF",
                // An erased call (DELETE /api/calls/{id}) is overwritten, not left in free pages.
                "PRAGMA secure_delete=ON",
                """
                CREATE TABLE IF NOT EXISTS calls(
                  id INTEGER PRIMARY KEY, session TEXT NOT NULL UNIQUE, epoch TEXT NOT NULL, ended_at INTEGER NOT NULL, started_at INTEGER,
                  provider TEXT, direction TEXT, grade TEXT, state TEXT, callee_sub TEXT, mos REAL, mos_avg REAL,
                  warnings TEXT NOT NULL, search TEXT NOT NULL,
                  summary BLOB NOT NULL, document BLOB NOT NULL, timeline BLOB NOT NULL, conflicts BLOB NOT NULL)
                """,
                "CREATE INDEX IF NOT EXISTS calls_ended ON calls(ended_at, session)",
                "CREATE INDEX IF NOT EXISTS calls_provider ON calls(provider, ended_at, session)",
                "CREATE INDEX IF NOT EXISTS calls_grade ON calls(grade, ended_at, session)",
                "CREATE INDEX IF NOT EXISTS calls_state ON calls(state, ended_at, session)",
                "CREATE INDEX IF NOT EXISTS calls_callee ON calls(callee_sub, ended_at, session)",
                // Covers the fleet summary: its scan never reads the wide rows (BENCHMARKS-store.md).
                "CREATE INDEX IF NOT EXISTS calls_summary ON calls(ended_at, provider, direction, grade, mos_avg, warnings)",
                // `q`: substring search through trigrams, keyed by the calls row's rowid.
                "CREATE VIRTUAL TABLE IF NOT EXISTS calls_search USING fts5(search, tokenize='trigram', detail='none')",
                """
                CREATE TABLE IF NOT EXISTS samples(
                  session TEXT NOT NULL, epoch TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER NOT NULL,
                  mos REAL, latency REAL, jitter REAL, loss REAL, warnings TEXT NOT NULL,
                  PRIMARY KEY(session, epoch, version)) WITHOUT ROWID
                """,
            ] {
                try HistoryArchive.exec(handle, sql)
            }
            // An upsert, not INSERT OR REPLACE: the row keeps its rowid, which keys its search row.
            upsertCall = try SQLiteStatement(db: handle, sql: """
                INSERT INTO calls(session, epoch, ended_at, started_at, provider, direction, grade, state,
                  callee_sub, mos, mos_avg, warnings, search, summary, document, timeline, conflicts)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                ON CONFLICT(session) DO UPDATE SET epoch = excluded.epoch, ended_at = excluded.ended_at,
                  started_at = excluded.started_at, provider = excluded.provider, direction = excluded.direction,
                  grade = excluded.grade, state = excluded.state, callee_sub = excluded.callee_sub, mos = excluded.mos,
                  mos_avg = excluded.mos_avg, warnings = excluded.warnings, search = excluded.search,
                  summary = excluded.summary, document = excluded.document, timeline = excluded.timeline,
                  conflicts = excluded.conflicts
                """)
            selectRowid = try SQLiteStatement(db: handle, sql: "SELECT rowid FROM calls WHERE session = ?1")
            deleteSearch = try SQLiteStatement(db: handle, sql: "DELETE FROM calls_search WHERE rowid = ?1")
            insertSearch = try SQLiteStatement(db: handle, sql: "INSERT INTO calls_search(rowid, search) VALUES (?1, ?2)")
            insertSample = try SQLiteStatement(db: handle, sql: """
                INSERT OR IGNORE INTO samples(session, epoch, version, ts, mos, latency, jitter, loss, warnings)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """)
            deleteOtherEpochs = try SQLiteStatement(db: handle, sql: "DELETE FROM samples WHERE session = ?1 AND epoch <> ?2")
            deleteCall = try SQLiteStatement(db: handle, sql: "DELETE FROM calls WHERE session = ?1")
            deleteSamples = try SQLiteStatement(db: handle, sql: "DELETE FROM samples WHERE session = ?1")
            selectCall = try SQLiteStatement(db: handle, sql: "SELECT epoch, document, timeline FROM calls WHERE session = ?1")
            selectSamples = try SQLiteStatement(db: handle, sql: """
                SELECT ts, mos, latency, jitter, loss, warnings, version FROM samples
                WHERE session = ?1 AND epoch = ?2 ORDER BY ts, version
                """)
            selectOldSessions = try SQLiteStatement(db: handle, sql: "SELECT session FROM calls WHERE ended_at < ?1")
            selectSampleWarnings = try SQLiteStatement(db: handle, sql: """
                SELECT DISTINCT warnings FROM samples WHERE session = ?1 AND epoch = ?2 AND warnings <> ''
                """)
        } catch {
            sqlite3_close_v2(handle)
            db = nil
            throw StoreError(message: "history archive \(path): \(error.message)")
        }
    }

    deinit {
        for statement in [upsertCall, insertSample, deleteOtherEpochs, deleteCall, deleteSamples, selectCall,
                          selectSamples, selectOldSessions, selectSampleWarnings, selectRowid, deleteSearch,
                          insertSearch] { statement.finalize() }
        if let db { sqlite3_close_v2(db) }
    }

    static func exec(_ db: OpaquePointer, _ sql: String) throws(StoreError) {
        let rc = sqlite3_exec(db, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(db, rc, "running \(sql)") }
    }

    private func live() throws(StoreError) -> OpaquePointer {
        guard let db else { throw StoreError(message: "history archive is closed") }
        return db
    }

    // MARK: - Writes

    /// Runs `body` in one transaction (one fsync for everything in it).
    public func transaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        let db = try live()
        try HistoryArchive.exec(db, "BEGIN IMMEDIATE")
        do {
            try body()
            try HistoryArchive.exec(db, "COMMIT")
        } catch {
            _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    /// Stores (or replaces) an ended call; samples of earlier incarnations
    /// of its id go. Its `warnings` column is every warning active at any of
    /// its samples, plus those the hub reports active at the end (a warning
    /// that rose and cleared still counts).
    public func put(_ call: ArchivedCall) throws(StoreError) {
        var warnings = Set(call.warnings)
        try selectSampleWarnings.bind(1, text: call.sessionId)
        try selectSampleWarnings.bind(2, text: call.epoch)
        while try selectSampleWarnings.step() {
            for w in selectSampleWarnings.text(0).split(separator: ",") { warnings.insert(String(w)) }
        }
        selectSampleWarnings.reset()
        let s = upsertCall
        defer { s.reset() }
        try s.bind(1, text: call.sessionId)
        try s.bind(2, text: call.epoch)
        try s.bind(3, int: call.endedAt)
        try s.bind(4, int: call.startedAt)
        try s.bind(5, text: call.provider)
        try s.bind(6, text: call.direction)
        try s.bind(7, text: call.grade)
        try s.bind(8, text: call.state)
        try s.bind(9, text: call.calleeSub)
        try s.bind(10, double: call.mos)
        try s.bind(11, double: call.mosAvg)
        try s.bind(12, text: warnings.sorted().joined(separator: ","))
        try s.bind(13, text: call.search)
        try s.bind(14, blob: seal(call.summary, call.sessionId))
        try s.bind(15, blob: seal(call.document, call.sessionId))
        try s.bind(16, blob: seal(call.timeline, call.sessionId))
        try s.bind(17, blob: seal(call.conflicts, call.sessionId))
        try s.run()
        guard let rowid = try rowid(call.sessionId) else { throw StoreError(message: "history archive: upsert lost its row") }
        try deleteSearch.bind(1, int: rowid)
        try deleteSearch.run()
        try insertSearch.bind(1, int: rowid)
        try insertSearch.bind(2, text: call.search)
        try insertSearch.run()
        try deleteOtherEpochs.bind(1, text: call.sessionId)
        try deleteOtherEpochs.bind(2, text: call.epoch)
        try deleteOtherEpochs.run()
    }

    /// Adds samples; one already stored (same session, epoch, version) is skipped.
    public func add(_ points: [QualityPoint]) throws(StoreError) {
        let s = insertSample
        for p in points {
            defer { s.reset() }
            try s.bind(1, text: p.sessionId)
            try s.bind(2, text: p.epoch)
            try s.bind(3, int: p.version)
            try s.bind(4, int: p.ts)
            try s.bind(5, double: p.mos)
            try s.bind(6, double: p.latency)
            try s.bind(7, double: p.jitter)
            try s.bind(8, double: p.packetLoss)
            try s.bind(9, text: p.warnings.joined(separator: ","))
            try s.run()
        }
    }

    /// Deletes a call and every sample of its id; true if anything was there.
    public func erase(_ sessionId: String) throws(StoreError) -> Bool {
        let db = try live()
        if let rowid = try rowid(sessionId) {
            try deleteSearch.bind(1, int: rowid)
            try deleteSearch.run()
        }
        try deleteCall.bind(1, text: sessionId)
        try deleteCall.run()
        var changed = sqlite3_changes(db) > 0
        try deleteSamples.bind(1, text: sessionId)
        try deleteSamples.run()
        changed = changed || sqlite3_changes(db) > 0
        return changed
    }

    private func rowid(_ sessionId: String) throws(StoreError) -> Int64? {
        let s = selectRowid
        defer { s.reset() }
        try s.bind(1, text: sessionId)
        return try s.step() ? s.int(0) : nil
    }

    /// Deletes calls that ended before `before` (`history.retentionDays`);
    /// returns how many.
    public func prune(before: Int64) throws(StoreError) -> Int {
        let s = selectOldSessions
        defer { s.reset() }
        try s.bind(1, int: before)
        var old: [String] = []
        while try s.step() { old.append(s.text(0)) }
        s.reset()
        for id in old { _ = try erase(id) }
        return old.count
    }

    /// Merges the search index's segments into one (FTS5 `optimize`):
    /// rows added a batch at a time leave many, and a query reads each.
    public func optimizeSearch() throws(StoreError) {
        try HistoryArchive.exec(try live(), "INSERT INTO calls_search(calls_search) VALUES ('optimize')")
    }

    // MARK: - Reads

    /// The archived document and timeline of a call, or nil.
    public func call(_ sessionId: String) throws(StoreError) -> (epoch: String, document: JSONValue, timeline: JSONValue)? {
        let s = selectCall
        defer { s.reset() }
        try s.bind(1, text: sessionId)
        guard try s.step() else { return nil }
        let epoch = s.text(0)
        let document = try parse(open(s.blob(1), sessionId))
        let timeline = try parse(open(s.blob(2), sessionId))
        return (epoch, document, timeline)
    }

    /// The epoch a call was archived under, or nil (for reading its samples).
    public func archivedEpoch(_ sessionId: String) throws(StoreError) -> String? {
        let s = selectCall
        defer { s.reset() }
        try s.bind(1, text: sessionId)
        return try s.step() ? s.text(0) : nil
    }

    /// Every sample of one incarnation of a session, by `ts` (then arrival).
    public func samples(_ sessionId: String, epoch: String) throws(StoreError) -> [QualityPoint] {
        let s = selectSamples
        defer { s.reset() }
        try s.bind(1, text: sessionId)
        try s.bind(2, text: epoch)
        var out: [QualityPoint] = []
        while try s.step() {
            let warnings = s.text(5)
            out.append(QualityPoint(sessionId: sessionId, epoch: epoch, version: s.int(6), ts: s.int(0),
                                    mos: s.double(1), latency: s.double(2), jitter: s.double(3), packetLoss: s.double(4),
                                    warnings: warnings.isEmpty ? [] : warnings.split(separator: ",").map(String.init)))
        }
        return out
    }

    /// One page of history, newest first.
    public func page(_ query: HistoryQuery) throws(StoreError) -> HistoryPage {
        var clauses: [String] = []
        var binds: [Bind] = []
        func add(_ sql: String, _ values: Bind...) {
            clauses.append(sql)
            binds += values
        }
        if let v = query.provider { add("provider = ?", .text(v)) }
        if let v = query.grade { add("grade = ?", .text(v)) }
        if let v = query.state { add("state = ?", .text(v)) }
        if let v = query.calleeSub { add("callee_sub = ?", .text(v)) }
        if let v = query.from { add("ended_at >= ?", .int(v)) }
        if let v = query.to { add("ended_at < ?", .int(v)) }
        if let after = query.after { add("(ended_at, session) < (?, ?)", .int(after.endedAt), .text(after.sessionId)) }
        if let q = query.q, !q.isEmpty {
            // GLOB, not LIKE: FTS5 hands a LIKE with an ESCAPE clause no
            // index (a full scan, ~35 ms at 100,000 calls), and a GLOB on
            // the trigram index is exact for any run of 3+ characters. Both
            // sides are lower-cased, so GLOB's case sensitivity does not show.
            add("rowid IN (SELECT rowid FROM calls_search WHERE search GLOB ?)",
                .text("*" + HistoryArchive.globEscaped(q.lowercased()) + "*"))
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT session, ended_at, summary, warnings FROM calls" + whereSQL
            + " ORDER BY ended_at DESC, session DESC LIMIT \(query.limit + 1)"
        let s = try SQLiteStatement(db: try live(), sql: sql)
        defer { s.finalize() }
        try bindAll(s, binds)
        var calls: [JSONValue] = []
        var last: (Int64, String)?
        var more = false
        while try s.step() {
            if calls.count == query.limit {
                more = true
                break
            }
            let id = s.text(0)
            last = (s.int(1), id)
            var row = try parse(open(s.blob(2), id))
            if case .object(var members) = row {
                // Every warning of the whole call, not only those active at its end.
                let warnings = s.text(3)
                members["warnings"] = .array(warnings.isEmpty ? [] : warnings.split(separator: ",").map { .string(String($0)) })
                row = .object(members)
            }
            calls.append(row)
        }
        return HistoryPage(calls: calls, next: more ? last.map { (endedAt: $0.0, sessionId: $0.1) } : nil)
    }

    /// The calls that ended in `[from, to)` (of one provider, when given), for the fleet summary.
    public func summaryRows(from: Int64?, to: Int64?, provider: String? = nil) throws(StoreError) -> [SummaryRow] {
        var clauses: [String] = []
        var binds: [Bind] = []
        if let provider {
            clauses.append("provider = ?")
            binds.append(.text(provider))
        }
        if let from {
            clauses.append("ended_at >= ?")
            binds.append(.int(from))
        }
        if let to {
            clauses.append("ended_at < ?")
            binds.append(.int(to))
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        let s = try SQLiteStatement(db: try live(), sql: "SELECT ended_at, provider, direction, grade, mos_avg, warnings FROM calls"
                                    + whereSQL + " ORDER BY ended_at")
        defer { s.finalize() }
        try bindAll(s, binds)
        var rows: [SummaryRow] = []
        while try s.step() {
            let warnings = s.text(5)
            rows.append(SummaryRow(endedAt: s.int(0), provider: s.optionalText(1), direction: s.optionalText(2),
                                   grade: s.optionalText(3), mosAvg: s.double(4),
                                   warnings: warnings.isEmpty ? [] : warnings.split(separator: ",").map(String.init)))
        }
        return rows
    }

    /// Number of archived calls.
    public func count() throws(StoreError) -> Int {
        let s = try SQLiteStatement(db: try live(), sql: "SELECT count(*) FROM calls")
        defer { s.finalize() }
        return try s.step() ? Int(s.int(0)) : 0
    }

    // MARK: - Helpers

    enum Bind {
        case text(String)
        case int(Int64)
    }

    private func bindAll(_ s: SQLiteStatement, _ binds: [Bind]) throws(StoreError) {
        for (i, bind) in binds.enumerated() {
            switch bind {
            case .text(let v): try s.bind(Int32(i + 1), text: v)
            case .int(let v): try s.bind(Int32(i + 1), int: v)
            }
        }
    }

    /// `q` is a substring, not a pattern: GLOB's `*`, `?` and `[` become
    /// one-character classes that match themselves.
    static func globEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "*" || c == "?" || c == "[" { out += "[\(c)]" } else { out.append(c) }
        }
        return out
    }

    private func seal(_ bytes: [UInt8], _ sessionId: String) -> [UInt8] {
        guard let key else { return bytes }
        return Crypto.aesGCMSeal(key: key, plaintext: bytes, aad: Array(sessionId.utf8))
    }

    private func open(_ bytes: [UInt8], _ sessionId: String) throws(StoreError) -> [UInt8] {
        guard let key else { return bytes }
        do { return try Crypto.aesGCMOpen(key: key, sealed: bytes, aad: Array(sessionId.utf8)) } catch {
            throw StoreError(message: "history archive: call \(sessionId) does not open with store.encryptionKey")
        }
    }

    private func parse(_ bytes: [UInt8]) throws(StoreError) -> JSONValue {
        do { return try JSONCodec.parse(bytes) } catch {
            throw StoreError(message: "history archive: stored JSON does not parse")
        }
    }
}

extension SQLiteStatement {
    /// Binds text, or NULL for nil.
    func bind(_ index: Int32, text: String?) throws(StoreError) {
        if let text { try bind(index, text: text) } else { try bindNull(index) }
    }

    /// Binds an integer, or NULL for nil.
    func bind(_ index: Int32, int value: Int64?) throws(StoreError) {
        if let value { try bind(index, int: value) } else { try bindNull(index) }
    }

    /// Binds a double, or NULL for nil.
    func bind(_ index: Int32, double value: Double?) throws(StoreError) {
        guard let handle else { throw StoreError(message: "statement is finalized") }
        let rc = value.map { sqlite3_bind_double(handle, index, $0) } ?? sqlite3_bind_null(handle, index)
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(nil, rc, "binding a double") }
    }

    func bindNull(_ index: Int32) throws(StoreError) {
        guard let handle else { throw StoreError(message: "statement is finalized") }
        let rc = sqlite3_bind_null(handle, index)
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(nil, rc, "binding NULL") }
    }

    /// Column `index` as a double, nil for NULL.
    func double(_ index: Int32) -> Double? {
        guard let handle, sqlite3_column_type(handle, index) != SQLITE_NULL else { return nil }
        return sqlite3_column_double(handle, index)
    }

    /// Column `index` as text, nil for NULL.
    func optionalText(_ index: Int32) -> String? {
        guard let handle, sqlite3_column_type(handle, index) != SQLITE_NULL else { return nil }
        return text(index)
    }
}
