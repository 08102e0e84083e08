import Auth
import Crypto
import Foundation
import Testing

/// Issue 29: the Twilio Voice access token's layout, read back with plain
/// base64url and JSON (PyJWT checks the signature in HubTests).
@Suite struct TwilioAccessTokenTests {
    let minter = TwilioAccessToken(accountSid: "AC0123", apiKeySid: "SK4567", apiKeySecret: "key-secret",
                                   twimlAppSid: "AP89ab", ttlSec: 3600)
    let now: Int64 = 1_795_734_600

    func part(_ token: String, _ index: Int) throws -> [String: Any] {
        let segment = String(token.split(separator: ".")[index])
        let bytes = try #require(Crypto.base64URLDecode(segment))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func headerAndClaimsFollowTwilioAccessTokenLayout() throws {
        let minted = minter.mint(identity: "user-admin-call-1", nowSec: now)
        #expect(minted.expiresAtSec == now + 3600)
        #expect(minted.jwt.split(separator: ".").count == 3)
        let header = try part(minted.jwt, 0)
        #expect(header as NSDictionary == ["alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"] as NSDictionary)
        let claims = try part(minted.jwt, 1)
        let expected: [String: Any] = [
            "jti": "SK4567-1795734600", "iss": "SK4567", "sub": "AC0123",
            "iat": 1_795_734_600, "nbf": 1_795_734_600, "exp": 1_795_738_200,
            "grants": ["identity": "user-admin-call-1",
                       "voice": ["incoming": ["allow": true], "outgoing": ["application_sid": "AP89ab"]]],
        ]
        #expect(claims as NSDictionary == expected as NSDictionary)
    }

    @Test func theSignatureIsHMACSHA256OfTheSigningInputWithTheKeySecret() throws {
        let jwt = minter.mint(identity: "x", nowSec: now).jwt
        let parts = jwt.split(separator: ".")
        let input = Array((parts[0] + "." + parts[1]).utf8)
        #expect(String(parts[2]) == Crypto.base64URLEncode(Crypto.hmacSHA256(key: Array("key-secret".utf8), message: input)))
    }

    @Test func withoutATwimlAppThereIsNoOutgoingGrant() throws {
        var incomingOnly = minter
        incomingOnly.twimlAppSid = nil
        let grants = try part(incomingOnly.mint(identity: "x", nowSec: now).jwt, 1)["grants"] as? [String: Any]
        #expect((grants?["voice"] as? [String: Any])?.keys.sorted() == ["incoming"])
    }

    @Test func theDefaultIdentityNamesTheRequesterAndTheSession() {
        #expect(TwilioAccessToken.defaultIdentity(sub: "admin", sessionId: "call-1f") == "user-admin-call-1f")
    }
}
