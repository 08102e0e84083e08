/// The claims Switchboard reads from a JWT (PROTOCOL.md §5). Times are
/// NumericDate: whole seconds since the Unix epoch.
public struct Claims: Sendable, Equatable {
    /// The user or device; required, non-empty.
    public var sub: String
    /// The session the token grants, `"*"` for every session, nil for none.
    public var sid: String?
    /// What the bearer may do.
    public var role: Role
    /// Expiry (s); required.
    public var exp: Int64
    /// Not-before (s), if present.
    public var nbf: Int64?
    /// Issued-at (s), if present.
    public var iat: Int64?
    /// The audience. On verified claims: the configured audience the token
    /// named (a token may list several; this is the one that matched).
    public var aud: String?

    public init(sub: String, sid: String? = nil, role: Role, exp: Int64,
                nbf: Int64? = nil, iat: Int64? = nil, aud: String? = nil) {
        self.sub = sub
        self.sid = sid
        self.role = role
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.aud = aud
    }
}
