import Auth
import Crypto
import Testing

/// A token whose signature the `openssl` CLI made, not our code.
func cliJWT(alg: String, kid: String? = nil, payload body: String = payload(), key: OpenSSLKey) -> String {
    let kidField = kid.map { #","kid":"\#($0)""# } ?? ""
    let input = b64(#"{"alg":"\#(alg)"\#(kidField),"typ":"JWT"}"#) + "." + b64(body)
    var signature = key.cliSign(input, ed25519: alg == "EdDSA")
    if alg == "ES256" {
        // `openssl dgst` emits DER ECDSA-Sig-Value; JWS wants raw r || s.
        signature = Crypto.ecdsaDERToRaw(signature)!
    }
    return input + "." + Crypto.base64URLEncode(signature)
}

@Suite struct AsymmetricTokens {
    let all = verifier(keys: [Keys.rsa.publicPEM, Keys.ec.publicPEM, Keys.ed.publicPEM])

    @Test(arguments: [("RS256", Keys.rsa), ("ES256", Keys.ec), ("EdDSA", Keys.ed)])
    func tokenSignedByOpenSSLCLIVerifies(alg: String, key: OpenSSLKey) throws {
        let claims = try all.verify(cliJWT(alg: alg, key: key), nowMs: nowMs)
        #expect(claims.sub == "user-1" && claims.role == .client && claims.sid == "s-42")
    }

    @Test(arguments: [Keys.rsa, Keys.ec, Keys.ed])
    func tokenMintedWithPrivateKeyVerifies(key: OpenSSLKey) throws {
        let claims = Claims(sub: "dev-9", sid: "*", role: .viewer, exp: nowSec + 30, iat: nowSec, aud: audience)
        let token = try #require(TokenMinter.sign(claims, privateKey: try Crypto.PrivateKey(pem: key.privatePEM)))
        #expect(try all.verify(token, nowMs: nowMs) == claims)
    }

    @Test(arguments: [("RS256", Keys.rsa), ("ES256", Keys.ec), ("EdDSA", Keys.ed)])
    func tamperedPayloadFailsForEveryAlgorithm(alg: String, key: OpenSSLKey) {
        let parts = cliJWT(alg: alg, key: key).split(separator: ".")
        let forged = parts[0] + "." + b64(payload(["role": "\"admin\""])) + "." + parts[2]
        #expect(refusal(forged, all) == .invalid("bad signature"))
    }

    @Test func tokenFromAnUnconfiguredKeyOfTheRightTypeFails() {
        let onlyRSA2 = verifier(keys: [Keys.rsa2.publicPEM])
        #expect(refusal(cliJWT(alg: "RS256", key: Keys.rsa), onlyRSA2) == .invalid("bad signature"))
    }

    @Test func eachKeyOfTheRightTypeIsTriedWhenThereIsNoKid() throws {
        let both = verifier(keys: [Keys.rsa2.publicPEM, Keys.rsa.publicPEM])
        _ = try both.verify(cliJWT(alg: "RS256", key: Keys.rsa), nowMs: nowMs)
    }

    @Test func kidSelectsTheLabelledKeyAndUnknownKidFallsBackToAll() throws {
        let labelled = verifier(keys: ["kid: old\n" + Keys.rsa2.publicPEM, "kid: new\n" + Keys.rsa.publicPEM])
        _ = try labelled.verify(cliJWT(alg: "RS256", kid: "new", key: Keys.rsa), nowMs: nowMs)
        // kid names the wrong key: only that key is tried, and it does not verify.
        #expect(refusal(cliJWT(alg: "RS256", kid: "old", key: Keys.rsa), labelled) == .invalid("bad signature"))
        _ = try labelled.verify(cliJWT(alg: "RS256", kid: "someone-elses-label", key: Keys.rsa), nowMs: nowMs)
    }

    @Test func ecdsaSignatureInDERInsteadOfRawIsRefused() {
        let input = b64(#"{"alg":"ES256"}"#) + "." + b64(payload())
        let der = Keys.ec.cliSign(input)
        #expect(refusal(input + "." + Crypto.base64URLEncode(der), all) == .invalid("bad signature"))
    }
}

/// Key confusion: the algorithm in the header must never choose a key of
/// another kind.
@Suite struct KeyConfusion {
    @Test func hs256SignedWithRSAPublicKeyPEMAsHMACKeyFails() {
        let v = verifier(secret: utf8("a-completely-different-hs256-secret!"), keys: [Keys.rsa.publicPEM])
        let forged = rawJWT(header: hsHeader, payload: payload(), hmacKey: utf8(Keys.rsa.publicPEM))
        #expect(refusal(forged, v) == .invalid("bad signature"))
    }

    @Test func hs256SignedWithPublicKeyPEMFailsWhenHS256IsDisabled() {
        for key in [Keys.rsa, Keys.ec, Keys.ed] {
            let v = verifier(secret: nil, keys: [key.publicPEM])
            let forged = rawJWT(header: hsHeader, payload: payload(), hmacKey: utf8(key.publicPEM))
            #expect(refusal(forged, v) == .invalid("bad signature"))
        }
    }

    @Test func hs256SignedWithPublicKeyDERAsHMACKeyFails() {
        let v = verifier(keys: [Keys.rsa.publicPEM])
        let body = Keys.rsa.publicPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = Crypto.base64Decode(body)!
        #expect(refusal(rawJWT(header: hsHeader, payload: payload(), hmacKey: der), v) == .invalid("bad signature"))
    }

    @Test func algorithmMustMatchKeyType() {
        // Each token is validly signed by its key, but the header names another algorithm.
        let v = verifier(keys: [Keys.rsa.publicPEM, Keys.ec.publicPEM, Keys.ed.publicPEM])
        let mislabelled: [(String, OpenSSLKey, Bool)] = [
            ("ES256", Keys.rsa, false), ("EdDSA", Keys.rsa, false),
            ("RS256", Keys.ec, false), ("EdDSA", Keys.ec, false),
            ("RS256", Keys.ed, true), ("ES256", Keys.ed, true),
        ]
        for (alg, key, ed) in mislabelled {
            let input = b64(#"{"alg":"\#(alg)"}"#) + "." + b64(payload())
            var signature = key.cliSign(input, ed25519: ed)
            if key.privatePath == Keys.ec.privatePath, let raw = Crypto.ecdsaDERToRaw(signature) { signature = raw }
            #expect(refusal(input + "." + Crypto.base64URLEncode(signature), v) == .invalid("bad signature"), "\(alg)")
        }
    }

    @Test func hs256SecretThatIsAPEMKeyIsRefusedAtStart() {
        #expect(throws: KeyError.self) {
            try TokenVerifier(hs256Secret: utf8(Keys.rsa.publicPEM), publicKeysPEM: [], audience: audience, maxTtlSec: 60)
        }
    }
}
