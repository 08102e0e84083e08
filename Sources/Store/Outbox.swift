import CSQLite
import Crypto

/// One outbound webhook delivery: one event for one endpoint (PROTOCOL.md §11).
///
/// The body is fixed when the event is made, so every attempt sends the same
/// bytes and the same `id`; only the signature's timestamp changes.
public struct OutboxDelivery: Sendable, Equatable {
    /// The event id (`X-Switchboard-Event-Id`), the same for every endpoint.
    public var id: String
    /// The endpoint URL.
    public var endpoint: String
    /// Order of creation, hub-wide: deliveries of one (session, endpoint)
    /// go out in this order.
    public var seq: Int64
    public var sessionId: String
    /// `call.state`, `call.ended`, `call.conflict`, `quality.warning`, `push.needed`.
    public var type: String
    public var version: Int64
    /// Hub time the event was made (ms).
    public var createdAt: Int64
    /// The JSON body POSTed.
    public var body: [UInt8]
    public var status: OutboxStatus
    public var attempts: Int
    public var lastError: String?
    /// Hub time (ms) of the next attempt while pending.
    public var nextAttemptAt: Int64

    public init(id: String, endpoint: String, seq: Int64, sessionId: String, type: String, version: Int64,
                createdAt: Int64, body: [UInt8], status: OutboxStatus = .pending, attempts: Int = 0,
                lastError: String? = nil, nextAttemptAt: Int64) {
        self.id = id
        self.endpoint = endpoint
        self.seq = seq
        self.sessionId = sessionId
        self.type = type
        self.version = version
        self.createdAt = createdAt
        self.body = body
        self.status = status
        self.attempts = attempts
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
    }
}

/// Where a delivery stands.
public enum OutboxStatus: String, Sendable, Equatable {
    /// Waiting for its turn, its next attempt, or in flight.
    case pending
    /// Answered 2xx.
    case delivered
    /// A dead letter: out of attempts or too old, or refused with 410.
    case failed
}

/// What the reactor asks the outbox to store, in one transaction with the
/// journal entries committed next to it.
public struct OutboxWrite: Sendable, Equatable {
    /// New deliveries.
    public var inserts: [OutboxDelivery] = []
    /// Changed deliveries (status, attempts, error, next attempt); the body is not rewritten.
    public var updates: [OutboxDelivery] = []
    /// Sessions dropped by retention: their delivered rows are forgotten
    /// (pending and dead letters stay until delivered or replayed).
    public var forgetDelivered: [String] = []

    public init(inserts: [OutboxDelivery] = [], updates: [OutboxDelivery] = [], forgetDelivered: [String] = []) {
        self.inserts = inserts
        self.updates = updates
        self.forgetDelivered = forgetDelivered
    }

    public var isEmpty: Bool { inserts.isEmpty && updates.isEmpty && forgetDelivered.isEmpty }

    /// Appends `other` after this one (later writes win).
    public mutating func merge(_ other: OutboxWrite) {
        inserts += other.inserts
        updates += other.updates
        forgetDelivered += other.forgetDelivered
    }
}

/// What the outbox held at start.
public struct OutboxLoad: Sendable, Equatable {
    /// Every stored delivery, in `seq` order.
    public var deliveries: [OutboxDelivery]
    /// Hub time from which committed inputs owe events: journal entries
    /// received earlier were made before webhooks were configured.
    public var enabledAt: Int64

    public init(deliveries: [OutboxDelivery], enabledAt: Int64) {
        self.deliveries = deliveries
        self.enabledAt = enabledAt
    }
}

/// A journal that also keeps the webhook outbox. `SQLiteJournal` is one;
/// `JournalWriter` commits outbox writes in the same transaction as the
/// entries queued next to them.
public protocol OutboxStore: JournalStore {
    /// Appends entries and applies the outbox write in one transaction.
    func append(_ entries: [JournalEntry], outbox: OutboxWrite) throws
    /// Every delivery, and the enable time (set to `now` when absent and
    /// `enable`; removed when not `enable`, so a later enable starts afresh).
    func loadOutbox(enable: Bool, now: Int64) throws -> OutboxLoad
}

/// The outbox tables of `SQLiteJournal` (schema added after version 1,
/// created when missing):
/// ```
/// outbox(id, endpoint, seq, session, type, version, created_at, body,
///        status, attempts, last_error, next_attempt_at, PRIMARY KEY(id, endpoint))
/// outbox_meta(key TEXT PRIMARY KEY, value INTEGER)   -- enabledAt
/// ```
/// With `store.encryptionKey` the body (which carries the document, PII
/// included) is sealed with AES-256-GCM, bound to the event id and endpoint.
final class OutboxTables {
    private let db: OpaquePointer
    private let key: [UInt8]?
    private let insert: SQLiteStatement
    private let update: SQLiteStatement
    private let forget: SQLiteStatement
    private let selectAll: SQLiteStatement
    private let selectEnabled: SQLiteStatement
    private let setEnabled: SQLiteStatement
    private let clearEnabled: SQLiteStatement

    init(db: OpaquePointer, key: [UInt8]?) throws(StoreError) {
        self.db = db
        self.key = key
        try SQLiteJournal.exec(db, """
            CREATE TABLE IF NOT EXISTS outbox(
                id TEXT NOT NULL, endpoint TEXT NOT NULL, seq INTEGER NOT NULL,
                session TEXT NOT NULL, type TEXT NOT NULL, version INTEGER NOT NULL,
                created_at INTEGER NOT NULL, body BLOB NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
                attempts INTEGER NOT NULL, last_error TEXT, next_attempt_at INTEGER NOT NULL,
                PRIMARY KEY (id, endpoint)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS outbox_session ON outbox(session);
            CREATE TABLE IF NOT EXISTS outbox_meta(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;
            """)
        insert = try SQLiteStatement(db: db, sql: """
            INSERT OR IGNORE INTO outbox(id, endpoint, seq, session, type, version, created_at, body,
                                         status, attempts, last_error, next_attempt_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
            """)
        update = try SQLiteStatement(db: db, sql: """
            UPDATE outbox SET status = ?3, attempts = ?4, last_error = ?5, next_attempt_at = ?6
            WHERE id = ?1 AND endpoint = ?2
            """)
        forget = try SQLiteStatement(db: db, sql: "DELETE FROM outbox WHERE session = ?1 AND status = 'delivered'")
        selectAll = try SQLiteStatement(db: db, sql: """
            SELECT id, endpoint, seq, session, type, version, created_at, body, status, attempts,
                   last_error, next_attempt_at FROM outbox ORDER BY seq
            """)
        selectEnabled = try SQLiteStatement(db: db, sql: "SELECT value FROM outbox_meta WHERE key = 'enabledAt'")
        setEnabled = try SQLiteStatement(db: db, sql: "INSERT OR REPLACE INTO outbox_meta(key, value) VALUES ('enabledAt', ?1)")
        clearEnabled = try SQLiteStatement(db: db, sql: "DELETE FROM outbox_meta WHERE key = 'enabledAt'")
    }

    func finalize() {
        for statement in [insert, update, forget, selectAll, selectEnabled, setEnabled, clearEnabled] {
            statement.finalize()
        }
    }

    /// Applies `write`; call inside the caller's transaction.
    func write(_ write: OutboxWrite) throws(StoreError) {
        do {
            for row in write.inserts {
                try insert.bind(1, text: row.id)
                try insert.bind(2, text: row.endpoint)
                try insert.bind(3, int: row.seq)
                try insert.bind(4, text: row.sessionId)
                try insert.bind(5, text: row.type)
                try insert.bind(6, int: row.version)
                try insert.bind(7, int: row.createdAt)
                try insert.bind(8, blob: seal(row))
                try insert.bind(9, text: row.status.rawValue)
                try insert.bind(10, int: Int64(row.attempts))
                try insert.bind(11, optionalText: row.lastError)
                try insert.bind(12, int: row.nextAttemptAt)
                try insert.run()
            }
            for row in write.updates {
                try update.bind(1, text: row.id)
                try update.bind(2, text: row.endpoint)
                try update.bind(3, text: row.status.rawValue)
                try update.bind(4, int: Int64(row.attempts))
                try update.bind(5, optionalText: row.lastError)
                try update.bind(6, int: row.nextAttemptAt)
                try update.run()
            }
            for session in write.forgetDelivered {
                try forget.bind(1, text: session)
                try forget.run()
            }
        } catch {
            insert.reset()
            update.reset()
            forget.reset()
            throw error
        }
    }

    /// Every delivery in `seq` order, and the enable time (see `OutboxStore.loadOutbox`).
    func load(enable: Bool, now: Int64) throws(StoreError) -> OutboxLoad {
        var stored: Int64?
        do {
            defer { selectEnabled.reset() }
            if try selectEnabled.step() { stored = selectEnabled.int(0) }
        }
        let enabledAt = stored ?? now
        if enable {
            if stored == nil {
                try setEnabled.bind(1, int: now)
                try setEnabled.run()
            }
        } else {
            try clearEnabled.run()
        }
        defer { selectAll.reset() }
        var rows: [OutboxDelivery] = []
        while try selectAll.step() {
            let s = selectAll
            var row = OutboxDelivery(
                id: s.text(0), endpoint: s.text(1), seq: s.int(2), sessionId: s.text(3), type: s.text(4),
                version: s.int(5), createdAt: s.int(6), body: s.blob(7),
                status: OutboxStatus(rawValue: s.text(8)) ?? .failed, attempts: Int(s.int(9)),
                lastError: sqlite3_column_type(s.handle, 10) == SQLITE_NULL ? nil : s.text(10),
                nextAttemptAt: s.int(11))
            row.body = try open(row)
            rows.append(row)
        }
        return OutboxLoad(deliveries: rows, enabledAt: enabledAt)
    }

    private func aad(_ row: OutboxDelivery) -> [UInt8] { Array("outbox:\(row.id):\(row.endpoint)".utf8) }

    private func seal(_ row: OutboxDelivery) -> [UInt8] {
        guard let key else { return row.body }
        return Crypto.aesGCMSeal(key: key, plaintext: row.body, aad: aad(row))
    }

    private func open(_ row: OutboxDelivery) throws(StoreError) -> [UInt8] {
        guard let key else { return row.body }
        do { return try Crypto.aesGCMOpen(key: key, sealed: row.body, aad: aad(row)) } catch {
            throw StoreError(message: "outbox delivery \(row.id) does not decrypt with store.encryptionKey: \(error)")
        }
    }
}

extension SQLiteStatement {
    /// Binds text, or NULL for nil.
    func bind(_ index: Int32, optionalText value: String?) throws(StoreError) {
        guard let value else {
            guard let handle else { throw StoreError(message: "journal is closed") }
            let rc = sqlite3_bind_null(handle, index)
            guard rc == SQLITE_OK else { throw StoreError(message: "SQLite binding NULL: code \(rc)") }
            return
        }
        try bind(index, text: value)
    }
}

extension SQLiteJournal: OutboxStore {
    /// Every outbox delivery and the enable time; call before the writer
    /// starts, or through `JournalWriter.loadOutbox` after.
    public func loadOutbox(enable: Bool, now: Int64) throws -> OutboxLoad {
        try outbox.load(enable: enable, now: now)
    }
}
