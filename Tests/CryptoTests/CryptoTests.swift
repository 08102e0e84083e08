import Crypto
import Testing

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
private func unhex(_ s: String) -> [UInt8] { Crypto.fromHex(s)! }

@Suite struct HMACVectors {
    @Test func hmacSHA256MatchesRFC4231TestCases1And2() {
        #expect(Crypto.hex(Crypto.hmacSHA256(key: [UInt8](repeating: 0x0b, count: 20), message: bytes("Hi There")))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Crypto.hex(Crypto.hmacSHA256(key: bytes("Jefe"), message: bytes("what do ya want for nothing?")))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hmacSHA256WithKeyLongerThanBlockMatchesRFC4231TestCase6() {
        let key = [UInt8](repeating: 0xaa, count: 131)
        let message = bytes("Test Using Larger Than Block-Size Key - Hash Key First")
        #expect(Crypto.hex(Crypto.hmacSHA256(key: key, message: message))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func hmacSHA1MatchesRFC2202TestCases1And2() {
        #expect(Crypto.hex(Crypto.hmacSHA1(key: [UInt8](repeating: 0x0b, count: 20), message: bytes("Hi There")))
            == "b617318655057264e28bc0b6fb378c8ef146be00")
        #expect(Crypto.hex(Crypto.hmacSHA1(key: bytes("Jefe"), message: bytes("what do ya want for nothing?")))
            == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test func hmacOverPartsEqualsHMACOverConcatenation() {
        let key = bytes("secret")
        #expect(Crypto.hmacSHA256(key: key, parts: [bytes("123."), bytes("{\"a\":1}"), []])
            == Crypto.hmacSHA256(key: key, message: bytes("123.{\"a\":1}")))
        #expect(Crypto.hmacSHA1(key: key, parts: [bytes("ab"), bytes("c")])
            == Crypto.hmacSHA1(key: key, message: bytes("abc")))
    }

    @Test func hmacsReusingAKeysContextsMatchTheVectorsEvenAfterAnAbandonedMAC() {
        let jefe = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        for round in 0..<20 {
            // Fed but never finalised: its context goes back for reuse mid-message.
            Crypto.HMAC(digest: "SHA256", key: bytes("Jefe")).update(bytes("left over \(round)"))
            let macs = (0..<3).map { _ in Crypto.HMAC(digest: "SHA256", key: bytes("Jefe")) }
            for mac in macs { mac.update(bytes("what do ya want for nothing?")) }
            #expect(macs.map { Crypto.hex($0.finalize()) } == [jefe, jefe, jefe])
            #expect(Crypto.hex(Crypto.hmacSHA1(key: bytes("Jefe"), message: bytes("what do ya want for nothing?")))
                == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        }
    }

    @Test func hmacAcceptsEmptyKeyAndMessage() {
        #expect(Crypto.hex(Crypto.hmacSHA256(key: [], message: []))
            == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test func sha256OfABCMatchesFIPS180() {
        #expect(Crypto.hex(Crypto.sha256(bytes("abc")))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Crypto.hex(Crypto.sha256([]))
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}

@Suite struct Ed25519Vectors {
    let secret = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    let publicKey = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    let signature = unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")

    @Test func rfc8032TestOneVerifiesAndSigns() {
        #expect(Crypto.ed25519PublicKey(fromPrivate: secret) == publicKey)
        #expect(Crypto.ed25519Sign(privateKey: secret, message: []) == signature)
        #expect(Crypto.ed25519Verify(publicKey: publicKey, message: [], signature: signature))
    }

    @Test func tamperedMessageOrSignatureFailsVerification() {
        #expect(!Crypto.ed25519Verify(publicKey: publicKey, message: [0], signature: signature))
        var bad = signature
        bad[0] ^= 1
        #expect(!Crypto.ed25519Verify(publicKey: publicKey, message: [], signature: bad))
    }

    @Test func malformedKeysAndSignaturesAreRejectedNotCrashed() {
        #expect(!Crypto.ed25519Verify(publicKey: [1, 2, 3], message: [], signature: signature))
        #expect(!Crypto.ed25519Verify(publicKey: publicKey, message: [], signature: Array(signature.prefix(10))))
        #expect(Crypto.ed25519Sign(privateKey: [1], message: []) == nil)
    }

    @Test func generatedKeySignsAndVerifiesARoundTrip() {
        let key = Crypto.randomBytes(32)
        let pub = Crypto.ed25519PublicKey(fromPrivate: key)!
        let message = bytes("1700000000|{\"data\":{}}")
        let sig = Crypto.ed25519Sign(privateKey: key, message: message)!
        #expect(Crypto.ed25519Verify(publicKey: pub, message: message, signature: sig))
    }
}

@Suite struct Encodings {
    @Test func base64MatchesRFC4648Vectors() {
        let cases = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in cases {
            #expect(Crypto.base64Encode(bytes(plain)) == encoded)
            #expect(Crypto.base64Decode(encoded) == bytes(plain))
        }
    }

    @Test func base64URLUsesDashUnderscoreWithoutPadding() {
        let data: [UInt8] = [0xfb, 0xff, 0xbf, 0xfe]
        #expect(Crypto.base64Encode(data) == "+/+//g==")
        #expect(Crypto.base64URLEncode(data) == "-_-__g")
        #expect(Crypto.base64URLDecode("-_-__g") == data)
        #expect(Crypto.base64URLDecode("-_-__g==") == data)
        #expect(Crypto.base64Decode("+/+//g") == data)
    }

    @Test func base64RoundTripsRandomBytesOfEveryLength() {
        for n in 0..<70 {
            let data = Crypto.randomBytes(n)
            #expect(Crypto.base64Decode(Crypto.base64Encode(data)) == data)
            #expect(Crypto.base64URLDecode(Crypto.base64URLEncode(data)) == data)
        }
    }

    @Test func base64RejectsForeignCharactersAndBadLengths() {
        #expect(Crypto.base64Decode("Zm9v YmFy") == nil)
        #expect(Crypto.base64Decode("Zm9v-_") == nil)
        #expect(Crypto.base64URLDecode("Zm9v+/") == nil)
        #expect(Crypto.base64Decode("Z") == nil)
        #expect(Crypto.base64Decode("Zg=") == nil)
        #expect(Crypto.base64Decode("Zh==") == nil) // non-zero trailing bits
    }

    @Test func hexRoundTripsAndRejectsGarbage() {
        #expect(Crypto.hex([0x00, 0xab, 0xff]) == "00abff")
        #expect(Crypto.fromHex("00ABff") == [0x00, 0xab, 0xff])
        #expect(Crypto.fromHex("abc") == nil)
        #expect(Crypto.fromHex("zz") == nil)
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!Crypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!Crypto.constantTimeEquals([1, 2], [1, 2, 3]))
        #expect(Crypto.constantTimeEquals([], []))
    }

    @Test func randomBytesHaveRequestedLengthAndDiffer() {
        #expect(Crypto.randomBytes(0).isEmpty)
        #expect(Crypto.randomBytes(32) != Crypto.randomBytes(32))
    }
}
