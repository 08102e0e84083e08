/// Something that receives a session's frames: a WebSocket connection in
/// production, a recorder in tests. Called only on the reactor thread.
public protocol Subscriber: AnyObject {
    /// Queue `frame` for sending. Must not block; the subscriber owns its
    /// back-pressure policy (conflate, or close 4008).
    func deliver(_ frame: Frame)
}

/// Who is speaking, as established at connect time (token claims once auth
/// lands; an anonymous client until then).
public struct ClientIdentity: Sendable, Equatable {
    /// The token's `sub`.
    public var sub: String
    /// `client`, `viewer`, `dashboard` or `admin`.
    public var role: String

    public init(sub: String, role: String) {
        self.sub = sub
        self.role = role
    }

    /// The merge `source` of this client's updates (§2).
    public var source: String { "client:" + sub }
}
