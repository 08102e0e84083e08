import CSQLite
import CallState
import Crypto
import JSONCodec

/// One registered device of a user (PROTOCOL.md §10): where the hub sends
/// the push that rings it.
public struct Device: Sendable, Equatable {
    /// The user (a token's `sub`).
    public var sub: String
    /// The app's own id for the install; unique per user.
    public var deviceId: String
    /// `ios`, `android` or `web`.
    public var platform: String
    /// APNs PushKit (VoIP) token, hex.
    public var voipPushToken: String?
    /// FCM registration token.
    public var pushToken: String?
    /// `ExponentPushToken[…]`.
    public var expoPushToken: String?
    public var appVersion: String?
    public var locale: String?
    /// Hub time (ms) of the first registration and of the last `PUT`.
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(sub: String, deviceId: String, platform: String, voipPushToken: String? = nil, pushToken: String? = nil,
                expoPushToken: String? = nil, appVersion: String? = nil, locale: String? = nil,
                createdAt: Int64, updatedAt: Int64) {
        self.sub = sub
        self.deviceId = deviceId
        self.platform = platform
        self.voipPushToken = voipPushToken
        self.pushToken = pushToken
        self.expoPushToken = expoPushToken
        self.appVersion = appVersion
        self.locale = locale
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The three push tokens as one JSON object: the part sealed at rest.
    var tokensJSON: [UInt8] {
        var members: [String: JSONValue] = [:]
        if let voipPushToken { members["voipPushToken"] = .string(voipPushToken) }
        if let pushToken { members["pushToken"] = .string(pushToken) }
        if let expoPushToken { members["expoPushToken"] = .string(expoPushToken) }
        return JSONCodec.encode(.object(members))
    }
}

/// Device registrations and removals to store, in one transaction.
public struct DeviceWrite: Sendable, Equatable {
    /// Inserted or replaced whole.
    public var upserts: [Device] = []
    /// `(sub, deviceId)` pairs to delete.
    public var deletes: [DeviceKey] = []

    public init(upserts: [Device] = [], deletes: [DeviceKey] = []) {
        self.upserts = upserts
        self.deletes = deletes
    }
}

/// Names one device.
public struct DeviceKey: Sendable, Hashable {
    public var sub: String
    public var deviceId: String

    public init(sub: String, deviceId: String) {
        self.sub = sub
        self.deviceId = deviceId
    }
}

/// The device table of `SQLiteJournal` (added with push; created when missing):
/// ```
/// devices(sub, device_id, platform, tokens, app_version, locale,
///         created_at, updated_at, PRIMARY KEY(sub, device_id))
/// ```
/// `tokens` is the JSON of the push tokens; with `store.encryptionKey` it is
/// sealed with AES-256-GCM bound to the device (`device:<sub>:<deviceId>`),
/// so a row cannot be moved to another user and still open. Tokens are
/// credentials for ringing a person's phone: they are kept like the PII.
final class DeviceTables {
    private let db: OpaquePointer
    private let key: [UInt8]?
    private let upsert: SQLiteStatement
    private let delete: SQLiteStatement
    private let selectAll: SQLiteStatement

    init(db: OpaquePointer, key: [UInt8]?) throws(StoreError) {
        self.db = db
        self.key = key
        try SQLiteJournal.exec(db, """
            CREATE TABLE IF NOT EXISTS devices(
                sub TEXT NOT NULL, device_id TEXT NOT NULL, platform TEXT NOT NULL, tokens BLOB NOT NULL,
                app_version TEXT, locale TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                PRIMARY KEY (sub, device_id)) WITHOUT ROWID;
            """)
        upsert = try SQLiteStatement(db: db, sql: """
            INSERT OR REPLACE INTO devices(sub, device_id, platform, tokens, app_version, locale, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        delete = try SQLiteStatement(db: db, sql: "DELETE FROM devices WHERE sub = ?1 AND device_id = ?2")
        selectAll = try SQLiteStatement(db: db, sql: """
            SELECT sub, device_id, platform, tokens, app_version, locale, created_at, updated_at
            FROM devices ORDER BY sub, device_id
            """)
    }

    func finalize() {
        for statement in [upsert, delete, selectAll] { statement.finalize() }
    }

    /// Applies `write` in its own transaction; on return it is on disk.
    func write(_ write: DeviceWrite) throws(StoreError) {
        try SQLiteJournal.exec(db, "BEGIN IMMEDIATE")
        do {
            for device in write.upserts {
                try upsert.bind(1, text: device.sub)
                try upsert.bind(2, text: device.deviceId)
                try upsert.bind(3, text: device.platform)
                try upsert.bind(4, blob: seal(device))
                try upsert.bind(5, optionalText: device.appVersion)
                try upsert.bind(6, optionalText: device.locale)
                try upsert.bind(7, int: device.createdAt)
                try upsert.bind(8, int: device.updatedAt)
                try upsert.run()
            }
            for gone in write.deletes {
                try delete.bind(1, text: gone.sub)
                try delete.bind(2, text: gone.deviceId)
                try delete.run()
            }
            try SQLiteJournal.exec(db, "COMMIT")
        } catch {
            upsert.reset()
            delete.reset()
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    /// Every stored device, decrypted.
    /// - Throws: `StoreError` for a row that does not open under the key.
    func load() throws(StoreError) -> [Device] {
        defer { selectAll.reset() }
        var out: [Device] = []
        while try selectAll.step() {
            let s = selectAll
            var device = Device(sub: s.text(0), deviceId: s.text(1), platform: s.text(2),
                                appVersion: sqlite3_column_type(s.handle, 4) == SQLITE_NULL ? nil : s.text(4),
                                locale: sqlite3_column_type(s.handle, 5) == SQLITE_NULL ? nil : s.text(5),
                                createdAt: s.int(6), updatedAt: s.int(7))
            let tokens = try open(s.blob(3), device)
            guard case .object(let members)? = try? JSONCodec.parse(tokens) else {
                throw StoreError(message: "device \(device.deviceId) of \(device.sub): stored tokens are not JSON")
            }
            device.voipPushToken = members["voipPushToken"]?.stringValue
            device.pushToken = members["pushToken"]?.stringValue
            device.expoPushToken = members["expoPushToken"]?.stringValue
            out.append(device)
        }
        return out
    }

    private func aad(_ device: Device) -> [UInt8] { Array("device:\(device.sub):\(device.deviceId)".utf8) }

    private func seal(_ device: Device) -> [UInt8] {
        guard let key else { return device.tokensJSON }
        return Crypto.aesGCMSeal(key: key, plaintext: device.tokensJSON, aad: aad(device))
    }

    private func open(_ stored: [UInt8], _ device: Device) throws(StoreError) -> [UInt8] {
        guard let key else { return stored }
        do { return try Crypto.aesGCMOpen(key: key, sealed: stored, aad: aad(device)) } catch {
            throw StoreError(message: "device \(device.deviceId) of \(device.sub) does not decrypt with store.encryptionKey: \(error)")
        }
    }
}

/// A journal that also keeps the device registry (`SQLiteJournal`).
public protocol DeviceStore: AnyObject {
    /// Applies the write in one transaction.
    func writeDevices(_ write: DeviceWrite) throws(StoreError)
    /// Every stored device.
    func loadDevices() throws(StoreError) -> [Device]
}

extension SQLiteJournal: DeviceStore {
    /// Call before the writer starts (start-up), or on the writer thread.
    public func writeDevices(_ write: DeviceWrite) throws(StoreError) {
        try devices.write(write)
    }

    /// Every device; call before the writer starts, like `loadAll`.
    public func loadDevices() throws(StoreError) -> [Device] {
        try devices.load()
    }
}
