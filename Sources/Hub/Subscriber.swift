import Auth

/// Something that receives a session's frames: a WebSocket connection in
/// production, a recorder in tests. Called only on the reactor thread.
public protocol Subscriber: AnyObject {
    /// Queue `frame` for sending. Must not block; the subscriber owns its
    /// back-pressure policy (conflate, or close 4008).
    func deliver(_ frame: Frame)
}

/// Who is speaking: the verified token's claims (PROTOCOL.md §5).
public struct ClientIdentity: Sendable, Equatable {
    public var sub: String
    public var role: Role
    /// The session the token grants, `*`, or nil.
    public var sid: String?
    /// When the token expires, ms since the epoch.
    public var expiresAtMs: Int64

    public init(sub: String, role: Role, sid: String? = nil, expiresAtMs: Int64 = .max) {
        self.sub = sub
        self.role = role
        self.sid = sid
        self.expiresAtMs = expiresAtMs
    }

    public init(claims: Claims) {
        self.init(sub: claims.sub, role: claims.role, sid: claims.sid, expiresAtMs: claims.exp * 1000)
    }

    /// The merge `source` of this client's updates (§2).
    public var source: String { "client:" + sub }

    /// Whether this identity may read `session`.
    public func canRead(_ session: String) -> Bool { role.canRead(session: session, claims: sid) }
}
