import CSQLite

/// One prepared statement, owned by one connection and reused for its lifetime.
///
/// Not thread-safe on its own: the owning `SQLiteJournal` is used from one
/// thread at a time.
final class SQLiteStatement {
    private(set) var handle: OpaquePointer?
    private let db: OpaquePointer
    private let sql: String

    /// Prepares `sql` on `db` (marked persistent: it lives as long as the journal).
    init(db: OpaquePointer, sql: String) throws(StoreError) {
        self.db = db
        self.sql = sql
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw SQLiteStatement.error(db, rc, "preparing \(sql)")
        }
        handle = statement
    }

    deinit { finalize() }

    /// Releases the statement; safe to call twice.
    func finalize() {
        if let handle { sqlite3_finalize(handle) }
        handle = nil
    }

    private func live() throws(StoreError) -> OpaquePointer {
        guard let handle else { throw StoreError(message: "journal is closed") }
        return handle
    }

    /// Binds UTF-8 text by length (not as a C string: a NUL inside would cut it).
    func bind(_ index: Int32, text: String) throws(StoreError) {
        let statement = try live()
        var text = text
        let rc: Int32 = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                // An empty buffer may have no base address, and a nil pointer binds NULL.
                guard let base = chars.baseAddress else {
                    return sqlite3_bind_text(statement, index, "", 0, CSQLite_transient())
                }
                return sqlite3_bind_text(statement, index, base, Int32(chars.count), CSQLite_transient())
            }
        }
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(db, rc, "binding text to \(sql)") }
    }

    /// Binds a 64-bit integer.
    func bind(_ index: Int32, int value: Int64) throws(StoreError) {
        let statement = try live()
        let rc = sqlite3_bind_int64(statement, index, value)
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(db, rc, "binding an integer to \(sql)") }
    }

    /// Binds a blob; copied by SQLite (`SQLITE_TRANSIENT`), so `bytes` may die after.
    func bind(_ index: Int32, blob bytes: [UInt8]) throws(StoreError) {
        let statement = try live()
        let rc: Int32 = bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return sqlite3_bind_zeroblob(statement, index, 0) }
            return sqlite3_bind_blob(statement, index, base, Int32(raw.count), CSQLite_transient())
        }
        guard rc == SQLITE_OK else { throw SQLiteStatement.error(db, rc, "binding a blob to \(sql)") }
    }

    /// Runs a statement that returns no rows, then resets it for the next use.
    func run() throws(StoreError) {
        let statement = try live()
        defer { reset() }
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE else { throw SQLiteStatement.error(db, rc, "running \(sql)") }
    }

    /// Steps once: true when a row is ready to read, false when done.
    func step() throws(StoreError) -> Bool {
        let statement = try live()
        let rc = sqlite3_step(statement)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteStatement.error(db, rc, "running \(sql)")
        }
    }

    /// Ready for the next use: bindings released, cursor rewound.
    func reset() {
        guard let handle else { return }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Column `index` of the current row as text ("" for NULL).
    func text(_ index: Int32) -> String {
        guard let handle, let chars = sqlite3_column_text(handle, index) else { return "" }
        // Bytes after the pointer call: the pointer call may convert the value first.
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: chars, count: count), as: UTF8.self)
    }

    /// Column `index` of the current row as bytes (empty for NULL and empty blobs).
    func blob(_ index: Int32) -> [UInt8] {
        guard let handle, let raw = sqlite3_column_blob(handle, index) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, index))
        return Array(UnsafeRawBufferPointer(start: raw, count: count))
    }

    /// Column `index` of the current row as an integer.
    func int(_ index: Int32) -> Int64 {
        guard let handle else { return 0 }
        return sqlite3_column_int64(handle, index)
    }

    /// A `StoreError` carrying SQLite's own explanation.
    static func error(_ db: OpaquePointer?, _ rc: Int32, _ doing: String) -> StoreError {
        let detail: String
        if let db, let message = sqlite3_errmsg(db) {
            detail = String(cString: message)
        } else if let message = sqlite3_errstr(rc) {
            detail = String(cString: message)
        } else {
            detail = "error"
        }
        return StoreError(message: "SQLite \(doing): \(detail) (code \(rc))")
    }
}
