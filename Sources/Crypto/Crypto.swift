import COpenSSL

/// Hashes, MACs, signatures and encodings the hub needs, over OpenSSL 3.
///
/// Digests, HMAC, Ed25519 and randomness go through OpenSSL's EVP / EVP_MAC
/// APIs (none of the 3.0-deprecated ones). Base64 and hex are done in Swift:
/// `EVP_DecodeBlock` accepts whitespace, zero-pads its output instead of
/// honouring `=`, and knows nothing of the URL-safe alphabet JWT needs.
public enum Crypto {
    // MARK: Digests and MACs

    /// SHA-256 of `message`.
    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = message.withUnsafeBytes { m in
            EVP_Digest(m.baseAddress, m.count, &digest, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return digest
    }

    /// HMAC-SHA256 of `message` under `key` (RFC 2104 / 4231).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        hmac(digest: "SHA256", key: key, parts: [message])
    }

    /// HMAC-SHA256 over the concatenation of `parts`, without building it:
    /// `"t." + body` for signature headers where the body may be megabytes.
    public static func hmacSHA256(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        hmac(digest: "SHA256", key: key, parts: parts)
    }

    /// HMAC-SHA1 of `message` under `key` (RFC 2104 / 2202). Twilio and
    /// Agora V1 still sign with it.
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        hmac(digest: "SHA1", key: key, parts: [message])
    }

    /// HMAC-SHA1 over the concatenation of `parts`.
    public static func hmacSHA1(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        hmac(digest: "SHA1", key: key, parts: parts)
    }

    private static func hmac(digest: String, key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        let mac = HMAC(digest: digest, key: key)
        for part in parts { mac.update(part) }
        return mac.finalize()
    }

    // MARK: Comparison and randomness

    /// Compares two byte strings in time independent of where they differ
    /// (`CRYPTO_memcmp`). Lengths are not secret: unequal lengths return
    /// false at once.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 {
            let ok = RAND_bytes(&out, Int32(count))
            precondition(ok == 1, "RAND_bytes failed")
        }
        return out
    }

    // MARK: Ed25519

    /// Verifies an Ed25519 (RFC 8032, pure) signature.
    /// - Parameters:
    ///   - publicKey: the raw 32-byte public key.
    ///   - message: the signed bytes.
    ///   - signature: the 64-byte signature.
    /// - Returns: false for a bad signature and for malformed keys or signatures.
    public static func ed25519Verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64 else { return false }
        guard let pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, 32) else { return false }
        defer { EVP_PKEY_free(pkey) }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        // Ed25519 hashes internally: digest must be nil.
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, pkey) == 1 else { return false }
        // The empty message is valid; OpenSSL wants a non-nil pointer for it.
        let bytes = message.isEmpty ? [0] : message
        return bytes.withUnsafeBufferPointer { m in
            EVP_DigestVerify(ctx, signature, 64, m.baseAddress, message.count) == 1
        }
    }

    /// Signs with Ed25519 (for tests and `switchboard simulate`).
    /// - Parameter privateKey: the raw 32-byte seed.
    /// - Returns: the 64-byte signature, or nil for a malformed key.
    public static func ed25519Sign(privateKey: [UInt8], message: [UInt8]) -> [UInt8]? {
        guard privateKey.count == 32,
              let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, privateKey, 32) else { return nil }
        defer { EVP_PKEY_free(pkey) }
        guard let ctx = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, nil, nil, pkey) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let bytes = message.isEmpty ? [0] : message
        let ok = bytes.withUnsafeBufferPointer { m in
            EVP_DigestSign(ctx, &signature, &length, m.baseAddress, message.count)
        }
        return ok == 1 && length == 64 ? signature : nil
    }

    /// The raw 32-byte public key of a raw 32-byte Ed25519 private key.
    public static func ed25519PublicKey(fromPrivate privateKey: [UInt8]) -> [UInt8]? {
        guard privateKey.count == 32,
              let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, privateKey, 32) else { return nil }
        defer { EVP_PKEY_free(pkey) }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(pkey, &out, &length) == 1, length == 32 else { return nil }
        return out
    }
}
