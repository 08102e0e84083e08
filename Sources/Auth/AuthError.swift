/// Why a request or connection was refused, with the HTTP status (§6) and
/// WebSocket close code (§3.4) that carry it to the peer.
///
/// Messages are safe to send to the peer: they name the rule that failed,
/// never a key, a secret or the token.
public struct AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `missing_token`, `invalid_token`, `expired_token` or `forbidden`.
    public let code: String
    /// Human-readable reason.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// No token in the `Authorization` header nor in `?token=`.
    public static let missing = AuthError(code: "missing_token", message: "no bearer token")

    /// Malformed, badly signed or otherwise unacceptable token.
    public static func invalid(_ message: String) -> AuthError {
        AuthError(code: "invalid_token", message: message)
    }

    /// A well-formed, correctly signed token past its `exp`.
    public static let expired = AuthError(code: "expired_token", message: "token expired")

    /// A valid token that does not grant this session, role or endpoint.
    public static func forbidden(_ message: String) -> AuthError {
        AuthError(code: "forbidden", message: message)
    }

    /// 401 for missing, invalid and expired tokens; 403 for forbidden.
    public var httpStatus: Int {
        code == "forbidden" ? 403 : 401
    }

    /// 4004 expired (refresh and reconnect), 4003 forbidden (do not
    /// reconnect), 4001 otherwise (get a token, reconnect).
    public var closeCode: Int32 {
        switch code {
        case "expired_token": return 4004
        case "forbidden": return 4003
        default: return 4001
        }
    }

    public var description: String { "\(code): \(message)" }
}
