import Crypto
import Testing

@Suite("AES-256-GCM")
struct AEADTests {
    let key = (0..<32).map { UInt8($0) }

    @Test func sealedMessageOpensWithTheSameKeyAndAAD() throws {
        let plaintext = Array("{\"to\":\"+15550100\"}".utf8)
        let sealed = Crypto.aesGCMSeal(key: key, plaintext: plaintext, aad: Array("s1".utf8))
        #expect(sealed.count == 12 + plaintext.count + 16)
        #expect(try Crypto.aesGCMOpen(key: key, sealed: sealed, aad: Array("s1".utf8)) == plaintext)
    }

    @Test func everySealUsesAFreshNonce() {
        let a = Crypto.aesGCMSeal(key: key, plaintext: [1, 2, 3], aad: [])
        let b = Crypto.aesGCMSeal(key: key, plaintext: [1, 2, 3], aad: [])
        #expect(a != b)
        #expect(Array(a.prefix(12)) != Array(b.prefix(12)))
    }

    @Test func wrongKeyWrongAADAndAlteredBytesAreRejected() {
        let sealed = Crypto.aesGCMSeal(key: key, plaintext: Array("secret".utf8), aad: Array("s1".utf8))
        var otherKey = key
        otherKey[0] ^= 1
        #expect(throws: Crypto.AEADError.self) { try Crypto.aesGCMOpen(key: otherKey, sealed: sealed, aad: Array("s1".utf8)) }
        #expect(throws: Crypto.AEADError.self) { try Crypto.aesGCMOpen(key: key, sealed: sealed, aad: Array("s2".utf8)) }
        for position in [0, 12, sealed.count - 1] {
            var altered = sealed
            altered[position] ^= 0x80
            #expect(throws: Crypto.AEADError.self) { try Crypto.aesGCMOpen(key: key, sealed: altered, aad: Array("s1".utf8)) }
        }
        #expect(throws: Crypto.AEADError.self) { try Crypto.aesGCMOpen(key: key, sealed: Array(sealed.prefix(27)), aad: []) }
        #expect(throws: Crypto.AEADError.self) { try Crypto.aesGCMOpen(key: Array(key.prefix(16)), sealed: sealed, aad: []) }
    }

    @Test func emptyPlaintextAndEmptyAADWork() throws {
        let sealed = Crypto.aesGCMSeal(key: key, plaintext: [], aad: [])
        #expect(sealed.count == 28)
        #expect(try Crypto.aesGCMOpen(key: key, sealed: sealed, aad: []) == [])
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14
    /// (zero key, zero 96-bit IV): checks the layout nonce || ciphertext || tag against known answers.
    @Test func knownAnswerVectorsOpen() throws {
        let zeroKey = [UInt8](repeating: 0, count: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let tag13 = try #require(Crypto.fromHex("530f8afbc74536b9a963b4f1c4cb738b"))
        #expect(try Crypto.aesGCMOpen(key: zeroKey, sealed: nonce + tag13, aad: []) == [])
        let c14 = try #require(Crypto.fromHex("cea7403d4d606b6e074ec5d3baf39d18"))
        let tag14 = try #require(Crypto.fromHex("d0d1c8a799996bf0265b98b5d48ab919"))
        #expect(try Crypto.aesGCMOpen(key: zeroKey, sealed: nonce + c14 + tag14, aad: []) == [UInt8](repeating: 0, count: 16))
    }
}
