import Crypto

/// The allowlist. Anything else in a header's `alg` — `none`, `HS384`,
/// `RS512`, `PS256`, a different case — is refused before any key is touched.
enum JWTAlgorithm: String, Sendable, CaseIterable {
    case hs256 = "HS256"
    case rs256 = "RS256"
    case es256 = "ES256"
    case edDSA = "EdDSA"

    /// The only public-key scheme this algorithm may be verified with; nil
    /// for HS256, which verifies only against the configured secret. Pinning
    /// alg to key type is what defeats key confusion.
    var scheme: Crypto.SignatureScheme? {
        switch self {
        case .hs256: return nil
        case .rs256: return .rsaPKCS1SHA256
        case .es256: return .ecdsaP256SHA256
        case .edDSA: return .ed25519
        }
    }

    /// The JWT algorithm a public key serves.
    init(scheme: Crypto.SignatureScheme) {
        switch scheme {
        case .rsaPKCS1SHA256: self = .rs256
        case .ecdsaP256SHA256: self = .es256
        case .ed25519: self = .edDSA
        }
    }
}
