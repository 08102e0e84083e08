import Auth
import Crypto
import Foundation
import Testing

@Suite struct KeyConfig {
    private func keyError(secret s: [UInt8]? = secret, keys: [String] = [], audience a: String = audience,
                          maxTtlSec: Int = 3600) -> KeyError? {
        do {
            _ = try TokenVerifier(hs256Secret: s, publicKeysPEM: keys, audience: a, maxTtlSec: maxTtlSec)
            return nil
        } catch {
            return error
        }
    }

    @Test func badPublicKeyIsNamedByItsIndex() {
        let error = keyError(keys: [Keys.ec.publicPEM, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])
        #expect(error?.key == "auth.publicKeys[1]")
    }

    @Test func nonPEMTextIsRefused() {
        #expect(keyError(keys: ["hello"])?.key == "auth.publicKeys[0]")
    }

    @Test func privateKeyInPublicKeysIsRefused() {
        #expect(keyError(keys: [Keys.ed.privatePEM])?.message == "a private key where a public key is expected")
    }

    @Test func pkcs1RSAPublicKeyBlockIsAcceptedForRS256() throws {
        let path = Keys.dir.appendingPathComponent("rsa.pkcs1.pem").path
        runOpenSSL(["rsa", "-in", Keys.rsa.privatePath, "-RSAPublicKey_out", "-out", path])
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN RSA PUBLIC KEY-----"))
        // OpenSSL 3's PUBKEY decoder takes PKCS#1 too; it is still an RSA public key.
        let v = verifier(secret: nil, keys: [pem])
        #expect(v.algorithms == ["RS256"])
        _ = try v.verify(cliJWT(alg: "RS256", key: Keys.rsa), nowMs: nowMs)
    }

    @Test func rsaUnder2048BitsIsRefused() {
        #expect(keyError(keys: [Keys.rsa1024.publicPEM])?.message.contains("1024 bits") == true)
    }

    @Test func ecCurveOtherThanP256IsRefused() {
        #expect(keyError(keys: [Keys.ecP384.publicPEM])?.message.contains("secp384r1") == true)
    }

    @Test func shortOrMissingHS256Secret() {
        #expect(keyError(secret: utf8("s3cret"))?.key == "auth.hs256Secret")
        #expect(keyError(secret: [])?.key == "auth.hs256Secret")
        #expect(keyError(secret: nil) == nil)
    }

    @Test func emptyAudienceAndNonPositiveTtlAreRefused() {
        #expect(keyError(audience: "")?.key == "auth.audience")
        #expect(keyError(maxTtlSec: 0)?.key == "auth.maxTtlSec")
    }

    @Test func atPathLoadsTheKeyFromAFile() throws {
        let path = Keys.dir.appendingPathComponent("ed.pub.pem").path
        let v = try TokenVerifier(hs256Secret: nil, publicKeysPEM: ["@" + path], audience: audience, maxTtlSec: 3600)
        #expect(v.algorithms == ["EdDSA"])
        #expect(keyError(keys: ["@/nonexistent/key.pem"]) == KeyError(key: "auth.publicKeys[0]", message: "cannot read /nonexistent/key.pem"))
    }

    @Test func algorithmsListFollowsConfiguredKeys() {
        #expect(verifier(keys: [Keys.rsa.publicPEM, Keys.ec.publicPEM]).algorithms == ["HS256", "RS256", "ES256"])
        #expect(verifier(secret: nil, keys: []).algorithms == [])
    }
}

@Suite struct CryptoKeys {
    @Test func ecdsaRawAndDERRoundTrip() throws {
        let key = try Crypto.PrivateKey(pem: Keys.ec.privatePEM)
        let raw = try #require(key.sign(message: utf8("m")))
        #expect(raw.count == 64)
        let der = try #require(Crypto.ecdsaRawToDER(raw))
        #expect(Crypto.ecdsaDERToRaw(der) == raw)
        #expect(Crypto.ecdsaRawToDER(Array(raw.prefix(63))) == nil)
        #expect(Crypto.ecdsaDERToRaw([0x30, 0x01]) == nil)
    }

    @Test func privateKeyDerivesTheMatchingPublicKey() throws {
        for key in [Keys.rsa, Keys.ec, Keys.ed] {
            let priv = try Crypto.PrivateKey(pem: key.privatePEM)
            let pub = try Crypto.PublicKey(pem: priv.publicKeyPEM)
            #expect(pub.scheme == priv.scheme)
            let signature = try #require(priv.sign(message: []))
            #expect(pub.verify(signature: signature, message: []))
            #expect(!pub.verify(signature: signature, message: [0]))
        }
    }

    @Test func ourES256SignatureVerifiesWithOpenSSLCLI() throws {
        let priv = try Crypto.PrivateKey(pem: Keys.ec.privatePEM)
        let message = "header.payload"
        let raw = try #require(priv.sign(message: utf8(message)))
        let der = try #require(Crypto.ecdsaRawToDER(raw))
        let dir = Keys.dir
        let msgPath = dir.appendingPathComponent("cli-msg").path
        let sigPath = dir.appendingPathComponent("cli-sig").path
        try Data(message.utf8).write(to: URL(fileURLWithPath: msgPath))
        try Data(der).write(to: URL(fileURLWithPath: sigPath))
        // runOpenSSL traps on a non-zero exit: verification failure fails the test run.
        runOpenSSL(["dgst", "-sha256", "-verify", dir.appendingPathComponent("ec.pub.pem").path, "-signature", sigPath, msgPath])
    }
}
