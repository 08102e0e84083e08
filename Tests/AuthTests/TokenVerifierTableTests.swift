import Auth
import Crypto
import Testing

/// One row of the refusal table: a token and the error it must earn.
struct Refusal: Sendable, CustomTestStringConvertible {
    let name: String
    let token: @Sendable () -> String
    let code: String
    /// The refusal's message, where the row is about one reason (an
    /// algorithm refused by name, not a signature that fails to check).
    let reason: String?
    /// The verifier also holds the RSA test key, so an RSA algorithm row is
    /// refused for its algorithm and not for a missing key.
    let withRSAKey: Bool
    var testDescription: String { name }

    init(_ name: String, _ code: String = "invalid_token", reason: String? = nil, withRSAKey: Bool = false,
         _ token: @escaping @Sendable () -> String) {
        self.name = name
        self.code = code
        self.reason = reason
        self.withRSAKey = withRSAKey
        self.token = token
    }
}

@Suite struct TokenVerifierTable {
    static let refusals: [Refusal] = [
        // Signature
        Refusal("forged signature (other secret)") {
            rawJWT(header: hsHeader, payload: payload(), hmacKey: utf8("another-secret-another-secret-000"))
        },
        Refusal("payload edited after signing (viewer → admin)") {
            let good = rawJWT(header: hsHeader, payload: payload(["role": "\"viewer\""])).split(separator: ".")
            return good[0] + "." + b64(payload(["role": "\"admin\""])) + "." + good[2]
        },
        Refusal("signature truncated") { String(rawJWT(header: hsHeader, payload: payload()).dropLast(2)) },
        Refusal("signature with base64 padding") { rawJWT(header: hsHeader, payload: payload()) + "=" },
        Refusal("empty signature on HS256") { rawJWT(header: hsHeader, payload: payload(), hmacKey: nil) },
        // Algorithms
        Refusal("alg none without signature") {
            rawJWT(header: #"{"alg":"none","typ":"JWT"}"#, payload: payload(), hmacKey: nil)
        },
        Refusal("alg none with a valid HMAC signature") {
            rawJWT(header: #"{"alg":"none","typ":"JWT"}"#, payload: payload())
        },
        Refusal("alg None (mixed case)") { rawJWT(header: #"{"alg":"None"}"#, payload: payload(), hmacKey: nil) },
        // Each signed for real with its algorithm by the openssl CLI, so the
        // row fails if the verifier ever accepts the algorithm; the reason
        // tells "not allowed" from "bad signature".
        Refusal("alg HS384", reason: "algorithm HS384 not allowed") {
            cliJWT(header: #"{"alg":"HS384"}"#, payload: payload(), ["dgst", "-sha384", "-hmac", String(decoding: secret, as: UTF8.self)])
        },
        Refusal("alg HS512", reason: "algorithm HS512 not allowed") {
            cliJWT(header: #"{"alg":"HS512"}"#, payload: payload(), ["dgst", "-sha512", "-hmac", String(decoding: secret, as: UTF8.self)])
        },
        Refusal("alg RS512", reason: "algorithm RS512 not allowed", withRSAKey: true) {
            cliJWT(header: #"{"alg":"RS512"}"#, payload: payload(), ["dgst", "-sha512", "-sign", Keys.rsa.privatePath])
        },
        Refusal("alg PS256", reason: "algorithm PS256 not allowed", withRSAKey: true) {
            cliJWT(header: #"{"alg":"PS256"}"#, payload: payload(),
                   ["dgst", "-sha256", "-sign", Keys.rsa.privatePath, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"])
        },
        Refusal("alg hs256 (wrong case)") { rawJWT(header: #"{"alg":"hs256"}"#, payload: payload()) },
        Refusal("alg missing") { rawJWT(header: #"{"typ":"JWT"}"#, payload: payload()) },
        Refusal("alg not a string") { rawJWT(header: #"{"alg":256}"#, payload: payload()) },
        Refusal("crit header") { rawJWT(header: #"{"alg":"HS256","crit":["exp"]}"#, payload: payload()) },
        Refusal("kid not a string") { rawJWT(header: #"{"alg":"HS256","kid":7}"#, payload: payload()) },
        Refusal("RS256 with no RSA key configured") { rawJWT(header: #"{"alg":"RS256"}"#, payload: payload()) },
        // Audience
        Refusal("wrong aud") { rawJWT(header: hsHeader, payload: payload(["aud": "\"other\""])) },
        Refusal("aud array without ours") { rawJWT(header: hsHeader, payload: payload(["aud": #"["a","b"]"#])) },
        Refusal("aud array with a non-string") {
            rawJWT(header: hsHeader, payload: payload(["aud": #"["switchboard",1]"#]))
        },
        Refusal("aud a number") { rawJWT(header: hsHeader, payload: payload(["aud": "1"])) },
        Refusal("missing aud") { rawJWT(header: hsHeader, payload: payload(drop: ["aud"])) },
        // Time
        Refusal("expired", "expired_token") {
            rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec - 1)", "iat": "\(nowSec - 600)"]))
        },
        Refusal("exp equal to now is expired", "expired_token") {
            rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec)", "iat": "\(nowSec - 600)"]))
        },
        Refusal("missing exp") { rawJWT(header: hsHeader, payload: payload(drop: ["exp"])) },
        Refusal("exp a string") { rawJWT(header: hsHeader, payload: payload(["exp": "\"\(nowSec + 60)\""])) },
        Refusal("future nbf") { rawJWT(header: hsHeader, payload: payload(["nbf": "\(nowSec + 60)"])) },
        Refusal("future iat beyond leeway") { rawJWT(header: hsHeader, payload: payload(["iat": "\(nowSec + 60)"])) },
        Refusal("ttl over max (iat + 3601)") {
            rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 3601)"]))
        },
        Refusal("ttl over max without iat (now + 4000)") {
            rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 4000)"], drop: ["iat"]))
        },
        Refusal("ttl overflow (iat far in the past)") {
            rawJWT(header: hsHeader, payload: payload(["exp": "9223372036854775807", "iat": "-9223372036854775807"]))
        },
        // Subject, role, sid
        Refusal("missing sub") { rawJWT(header: hsHeader, payload: payload(drop: ["sub"])) },
        Refusal("empty sub") { rawJWT(header: hsHeader, payload: payload(["sub": "\"\""])) },
        Refusal("sub a number") { rawJWT(header: hsHeader, payload: payload(["sub": "12"])) },
        Refusal("unknown role") { rawJWT(header: hsHeader, payload: payload(["role": "\"superuser\""])) },
        Refusal("role in other case") { rawJWT(header: hsHeader, payload: payload(["role": "\"Admin\""])) },
        Refusal("missing role") { rawJWT(header: hsHeader, payload: payload(drop: ["role"])) },
        Refusal("sid a number") { rawJWT(header: hsHeader, payload: payload(["sid": "42"])) },
        Refusal("sid null") { rawJWT(header: hsHeader, payload: payload(["sid": "null"])) },
        // Malformed
        Refusal("empty string") { "" },
        Refusal("two parts a.b") { "a.b" },
        Refusal("four parts a.b.c.d") { "a.b.c.d" },
        Refusal("one part") { "abc" },
        Refusal("non-base64 parts") { "!!!.###.$$$" },
        Refusal("valid token with a fourth part") { rawJWT(header: hsHeader, payload: payload()) + ".x" },
        Refusal("header not JSON") { rawJWT(header: "not json", payload: payload()) },
        Refusal("header a JSON array") { rawJWT(header: #"["HS256"]"#, payload: payload()) },
        Refusal("payload not JSON (signed)") { rawJWT(header: hsHeader, payload: "hello") },
        Refusal("payload a JSON string (signed)") { rawJWT(header: hsHeader, payload: "\"sub\"") },
        Refusal("empty header segment") { ".\(b64(payload())).c2ln" },
        Refusal("over 8 KiB") {
            rawJWT(header: hsHeader, payload: payload(["sub": "\"" + String(repeating: "x", count: 9000) + "\""]))
        },
    ]

    @Test(arguments: refusals)
    func refusedTokensEarnTheirErrorCode(_ row: Refusal) {
        let error = refusal(row.token(), row.withRSAKey ? verifier(keys: [Keys.rsa.publicPEM]) : verifier())
        #expect(error?.code == row.code, "\(row.name): \(String(describing: error))")
        if let reason = row.reason { #expect(error?.message == reason, "\(row.name): \(String(describing: error))") }
    }

    @Test(arguments: Role.allCases)
    func validHS256TokenForEachRoleVerifiesToItsClaims(_ role: Role) throws {
        let claims = Claims(sub: "user-\(role)", sid: "s-1", role: role, exp: nowSec + 60, iat: nowSec, aud: audience)
        let token = TokenMinter.hs256(claims, secret: secret)
        #expect(try verifier().verify(token, nowMs: nowMs) == claims)
    }

    @Test func mintedHeaderIsExactlyHS256JWT() throws {
        let token = TokenMinter.hs256(Claims(sub: "u", role: .viewer, exp: nowSec + 1, aud: audience), secret: secret)
        let header = try #require(Crypto.base64URLDecode(String(token.split(separator: ".")[0])))
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"HS256","typ":"JWT"}"#)
    }

    @Test func hs256WithoutConfiguredSecretIsRefused() {
        let token = rawJWT(header: hsHeader, payload: payload())
        #expect(refusal(token, verifier(secret: nil))?.code == "invalid_token")
    }
}

@Suite struct TokenVerifierClaims {
    @Test func audienceArrayContainingOursIsAccepted() throws {
        let claims = try verifier().verify(rawJWT(header: hsHeader, payload: payload(["aud": #"["x","switchboard"]"#])), nowMs: nowMs)
        #expect(claims.aud == audience)
    }

    @Test func sidIsOptionalAndStarIsKept() throws {
        #expect(try verifier().verify(rawJWT(header: hsHeader, payload: payload(drop: ["sid"])), nowMs: nowMs).sid == nil)
        #expect(try verifier().verify(rawJWT(header: hsHeader, payload: payload(["sid": "\"*\""])), nowMs: nowMs).sid == "*")
    }

    @Test func expiryHasNoLeewayToTheMillisecond() {
        let token = rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 1)"]))
        #expect(refusal(token, at: nowMs + 999) == nil)
        #expect(refusal(token, at: nowMs + 1000) == .expired)
    }

    @Test func nbfAndIatTolerateFiveSecondsOfIssuerClockLead() {
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(["nbf": "\(nowSec + 5)", "iat": "\(nowSec + 5)"]))) == nil)
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(["nbf": "\(nowSec + 6)"])))?.code == "invalid_token")
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(["iat": "\(nowSec + 6)"])))?.code == "invalid_token")
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(["nbf": "\(nowSec - 10)"]))) == nil)
    }

    @Test func lifetimeExactlyMaxTtlIsAccepted() {
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 3600)"]))) == nil)
        let over = refusal(rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 3601)"])))
        #expect(over == .invalid("lifetime over auth.maxTtlSec"))
    }

    @Test func fractionalNumericDatesRoundDown() throws {
        let claims = try verifier().verify(rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec + 60).9"])), nowMs: nowMs)
        #expect(claims.exp == nowSec + 60)
    }

    @Test func expiredIsOnlyReportedForOtherwiseValidTokens() {
        // Expired *and* wrong audience: refreshing would not help, so invalid.
        let token = rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec - 1)", "iat": "\(nowSec - 60)", "aud": "\"x\""]))
        #expect(refusal(token)?.code == "invalid_token")
        // Expired with a bad signature: never "expired".
        let forged = rawJWT(header: hsHeader, payload: payload(["exp": "\(nowSec - 1)", "iat": "\(nowSec - 60)"]),
                            hmacKey: utf8("wrong-wrong-wrong-wrong-wrong-wrong"))
        #expect(refusal(forged)?.code == "invalid_token")
    }

    @Test func refusalMessagesNeverEchoTheSecret() {
        let error = refusal(rawJWT(header: hsHeader, payload: payload(), hmacKey: utf8("x")))
        #expect(error == .invalid("bad signature"))
        #expect(!(error?.message.contains("switchboard-test-secret") ?? true))
    }
}
