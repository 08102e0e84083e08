import CallState
import Crypto
import JSONCodec

/// Verifies Switchboard JWTs (RFC 7519 / 7515, compact form) against the
/// configured keys and the rules of PROTOCOL.md §5.
///
/// Order of checks, and why:
/// 1. shape: three base64url parts, at most `maxTokenBytes`;
/// 2. header: `alg` on the allowlist (`none` and everything else refused),
///    no `crit`; `jwk` / `jku` / `x5u` / `x5c` headers are ignored — keys come
///    only from config, never from the token;
/// 3. signature: HS256 only against `auth.hs256Secret`, RS256 / ES256 /
///    EdDSA only against public keys of that exact type, so an attacker
///    cannot steer verification onto a key of another kind (key confusion);
/// 4. claims, only once the signature holds — an unsigned token learns
///    nothing about which claim would have failed: types, `sub`, `role`,
///    `sid`, `aud`, lifetime, `nbf`, `iat`, and `exp` last so that
///    `expired_token` (client: refresh and retry) is only said of a token a
///    refresh would fix.
///
/// Clock: `exp` has no leeway (expired when `exp * 1000 <= nowMs`, matching
/// the hub's 4004 close at `exp`); `nbf` and `iat` tolerate
/// `clockSkewSec` of issuer clock running ahead.
public struct TokenVerifier: Sendable {
    /// One configured public key and its optional `kid` label.
    struct PublicKeyEntry: Sendable {
        let kid: String?
        let key: Crypto.PublicKey
    }

    /// Longest token accepted, before any decoding: headers carry a JWT in
    /// a few hundred bytes; 8 KiB bounds the work an unauthenticated peer
    /// can make us do.
    public static let maxTokenBytes = 8192
    /// Tolerated issuer clock lead for `nbf` and `iat` (s).
    public static let clockSkewSec: Int64 = 5
    /// Shortest HS256 secret accepted: RFC 7518 §3.2 requires a key at least
    /// as long as the hash (256 bits); shorter ones are brute-forceable
    /// offline from any single token.
    public static let minHS256SecretBytes = 32

    private let hs256Secret: [UInt8]?
    private let publicKeys: [PublicKeyEntry]
    /// The `aud` every token must name (`auth.audience`).
    public let audience: String
    /// Longest accepted lifetime `exp - (iat ?? now)` in seconds (`auth.maxTtlSec`).
    public let maxTtlSec: Int

    /// - Parameters:
    ///   - hs256Secret: the HS256 key bytes; nil disables HS256.
    ///   - publicKeysPEM: SPKI PEM public keys (`-----BEGIN PUBLIC KEY-----`)
    ///     or `@/path` to a file holding one. The key type decides the
    ///     algorithm it serves: RSA ≥ 2048 bits → RS256, EC P-256 → ES256,
    ///     Ed25519 → EdDSA. Lines `kid: NAME` before the PEM block label the
    ///     key for the `kid` header.
    ///   - audience: the required `aud`.
    ///   - maxTtlSec: the longest lifetime a token may claim.
    /// - Throws: `KeyError` naming the config key at fault.
    public init(hs256Secret: [UInt8]?, publicKeysPEM: [String], audience: String, maxTtlSec: Int) throws(KeyError) {
        if let secret = hs256Secret {
            guard secret.count >= Self.minHS256SecretBytes else {
                throw KeyError(key: "auth.hs256Secret",
                               message: "\(secret.count) bytes; HS256 needs at least \(Self.minHS256SecretBytes)")
            }
            // A PEM here means someone meant a public key: HMAC with public
            // text is exactly the key-confusion forgery, refuse to set it up.
            guard !String(decoding: secret, as: UTF8.self).contains("-----BEGIN") else {
                throw KeyError(key: "auth.hs256Secret",
                               message: "looks like a PEM key; put public keys in auth.publicKeys")
            }
        }
        guard !audience.isEmpty else {
            throw KeyError(key: "auth.audience", message: "must not be empty")
        }
        guard maxTtlSec > 0 else {
            throw KeyError(key: "auth.maxTtlSec", message: "must be positive")
        }
        var entries: [PublicKeyEntry] = []
        for (index, entry) in publicKeysPEM.enumerated() {
            let name = "auth.publicKeys[\(index)]"
            var text = entry
            if entry.hasPrefix("@") {
                let path = String(entry.dropFirst())
                guard let contents = KeyFile.read(path) else {
                    throw KeyError(key: name, message: "cannot read \(path)")
                }
                text = contents
            }
            let (kid, pem) = Self.splitLabel(text)
            do {
                entries.append(PublicKeyEntry(kid: kid, key: try Crypto.PublicKey(pem: pem)))
            } catch {
                throw KeyError(key: name, message: error.message)
            }
        }
        self.hs256Secret = hs256Secret
        self.publicKeys = entries
        self.audience = audience
        self.maxTtlSec = maxTtlSec
    }

    /// The algorithms this verifier accepts with its keys, for the start-up log.
    public var algorithms: [String] {
        JWTAlgorithm.allCases.filter { alg in
            if let scheme = alg.scheme { return publicKeys.contains { $0.key.scheme == scheme } }
            return hs256Secret != nil
        }.map(\.rawValue)
    }

    /// Verifies `token` and returns its claims.
    /// - Parameter nowMs: the current wall-clock time in milliseconds.
    /// - Throws: `.invalid` (malformed, bad signature, refused algorithm,
    ///   bad claims, not yet valid) or `.expired`.
    public func verify(_ token: String, nowMs: Int64) throws(AuthError) -> Claims {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty else { throw .invalid("empty token") }
        guard bytes.count <= Self.maxTokenBytes else { throw .invalid("token over \(Self.maxTokenBytes) bytes") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalid("not a JWS compact token (3 dot-separated parts)") }

        let header = try Self.jsonObject(parts[0], what: "header")
        guard case .string(let algName)? = header["alg"] else { throw .invalid("header without alg") }
        guard let alg = JWTAlgorithm(rawValue: algName) else {
            throw .invalid(algName.lowercased() == "none" ? "alg none refused" : "algorithm \(algName) not allowed")
        }
        // RFC 7515 §4.1.11: extensions listed in crit must be understood; we understand none.
        guard header["crit"] == nil else { throw .invalid("crit header not supported") }
        var kid: String?
        switch header["kid"] {
        case nil: break
        case .string(let k)?: kid = k
        default: throw .invalid("kid is not a string")
        }

        guard let signature = Self.base64URL(parts[2]), !signature.isEmpty else {
            throw .invalid("bad signature encoding")
        }
        // The signing input is the encoded header and payload as sent.
        let signingInput = Array(bytes[0..<(parts[0].count + 1 + parts[1].count)])
        guard verifySignature(alg: alg, kid: kid, signature: signature, message: signingInput) else {
            throw .invalid("bad signature")
        }

        let payload = try Self.jsonObject(parts[1], what: "payload")
        return try checkClaims(payload, nowMs: nowMs)
    }

    // MARK: - Signature

    private func verifySignature(alg: JWTAlgorithm, kid: String?, signature: [UInt8], message: [UInt8]) -> Bool {
        guard let scheme = alg.scheme else {
            // HS256: the configured secret and nothing else, whatever the
            // token's kid says — a public key is never an HMAC key.
            guard let secret = hs256Secret else { return false }
            return Crypto.constantTimeEquals(Crypto.hmacSHA256(key: secret, message: message), signature)
        }
        let candidates = publicKeys.filter { $0.key.scheme == scheme }
        // A kid naming a configured key narrows the search; an unknown kid
        // (issuers label keys as they like) falls back to every key of the
        // type. Every configured key is equally trusted, so this only saves work.
        let labelled = kid.map { k in candidates.filter { $0.kid == k } } ?? []
        let keys = labelled.isEmpty ? candidates : labelled
        return keys.contains { $0.key.verify(signature: signature, message: message) }
    }

    // MARK: - Claims

    private func checkClaims(_ payload: [String: JSONValue], nowMs: Int64) throws(AuthError) -> Claims {
        guard case .string(let sub)? = payload["sub"], !sub.isEmpty else {
            throw .invalid(payload["sub"] == nil ? "sub missing" : "sub must be a non-empty string")
        }
        guard let roleValue = payload["role"] else { throw .invalid("role missing") }
        guard case .string(let roleName) = roleValue, let role = Role(rawValue: roleName) else {
            throw .invalid("unknown role")
        }
        var sid: String?
        if let value = payload["sid"] {
            guard case .string(let s) = value, !s.isEmpty else { throw .invalid("sid must be a non-empty string") }
            sid = s
        }
        try checkAudience(payload["aud"])

        guard let expValue = payload["exp"] else { throw .invalid("exp missing") }
        let exp = try Self.numericDate(expValue, name: "exp")
        let nbf = try payload["nbf"].map { v throws(AuthError) in try Self.numericDate(v, name: "nbf") }
        let iat = try payload["iat"].map { v throws(AuthError) in try Self.numericDate(v, name: "iat") }

        // Whole seconds, rounded down: `exp <= nowSec` ⇔ `exp * 1000 <= nowMs`
        // without overflowing on absurd claims.
        let nowSec = Self.floorDiv(nowMs, 1000)
        let leewaySec = Self.floorDiv(nowMs &+ Self.clockSkewSec * 1000, 1000)

        let (lifetime, overflow) = exp.subtractingReportingOverflow(iat ?? nowSec)
        guard !overflow, lifetime <= Int64(maxTtlSec) else { throw .invalid("lifetime over auth.maxTtlSec") }
        if let nbf, nbf > leewaySec { throw .invalid("token not yet valid (nbf)") }
        if let iat, iat > leewaySec { throw .invalid("token issued in the future (iat)") }
        guard exp > nowSec else { throw .expired }

        return Claims(sub: sub, sid: sid, role: role, exp: exp, nbf: nbf, iat: iat, aud: audience)
    }

    private func checkAudience(_ value: JSONValue?) throws(AuthError) {
        switch value {
        case nil:
            throw .invalid("aud missing")
        case .string(let aud)?:
            guard aud == audience else { throw .invalid("wrong audience") }
        case .array(let list)?:
            var found = false
            for item in list {
                guard case .string(let aud) = item else { throw .invalid("aud must hold strings") }
                if aud == audience { found = true }
            }
            guard found else { throw .invalid("wrong audience") }
        default:
            throw .invalid("aud must be a string or an array of strings")
        }
    }

    // MARK: - Decoding helpers

    /// Decodes a base64url segment. JWS forbids padding (RFC 7515 §2), and
    /// `Crypto.base64URLDecode` already refuses non-canonical trailing bits,
    /// so each token has exactly one encoding.
    static func base64URL(_ segment: ArraySlice<UInt8>) -> [UInt8]? {
        guard !segment.contains(UInt8(ascii: "=")) else { return nil }
        return Crypto.base64URLDecode(String(decoding: segment, as: UTF8.self))
    }

    private static func jsonObject(_ segment: ArraySlice<UInt8>, what: String) throws(AuthError) -> [String: JSONValue] {
        guard !segment.isEmpty, let decoded = base64URL(segment) else { throw .invalid("bad \(what) encoding") }
        // Duplicate members: jansson keeps the last, one of the two choices RFC 7515 §4 allows.
        guard let value = try? JSONCodec.parse(decoded) else { throw .invalid("\(what) is not JSON") }
        guard case .object(let object) = value else { throw .invalid("\(what) is not a JSON object") }
        return object
    }

    /// A NumericDate (RFC 7519 §2): integer seconds, or a finite fraction
    /// rounded down. Anything else is a type error.
    private static func numericDate(_ value: JSONValue, name: String) throws(AuthError) -> Int64 {
        switch value {
        case .int(let i):
            return i
        case .double(let d) where d.isFinite && d >= -9.0e18 && d <= 9.0e18:
            return Int64(d.rounded(.down))
        default:
            throw .invalid("\(name) must be a number")
        }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Splits optional `kid: NAME` lines off the front of a key entry.
    static func splitLabel(_ text: String) -> (kid: String?, pem: String) {
        guard let begin = text.firstRange(of: "-----BEGIN") else { return (nil, text) }
        var kid: String?
        for line in text[..<begin.lowerBound].split(whereSeparator: \.isNewline) {
            let trimmed = trim(line)
            if trimmed.hasPrefix("kid:") {
                kid = trim(trimmed.dropFirst(4))
            }
        }
        return (kid, String(text[begin.lowerBound...]))
    }

    private static func trim(_ text: Substring) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
