import COpenSSL

/// AES-256-GCM (NIST SP 800-38D) over OpenSSL's EVP cipher API, for
/// encrypting data at rest.
///
/// The sealed form is self-contained: `nonce (12) || ciphertext || tag (16)`.
/// Nonces are 96 random bits per message, so one key must not seal more than
/// about 2^32 messages (SP 800-38D §8.3); a journal writing 10,000 inputs a
/// second reaches that after more than ten years.
extension Crypto {
    /// Why `aesGCMOpen` refused its input.
    public struct AEADError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What went wrong, e.g. `authentication failed`.
        public let message: String

        public init(message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    /// Bytes of the random nonce in front of every sealed message.
    public static let aesGCMNonceBytes = 12
    /// Bytes of the authentication tag at the end of every sealed message.
    public static let aesGCMTagBytes = 16

    /// Encrypts and authenticates `plaintext`, and authenticates `aad`.
    /// - Parameters:
    ///   - key: 32 bytes. Anything else is a programming error (trap): keys
    ///     are validated once when configuration is read.
    ///   - plaintext: the secret bytes (may be empty).
    ///   - aad: bytes that are not encrypted but must match on open, binding
    ///     the ciphertext to its context (e.g. the row it belongs to).
    /// - Returns: `nonce (12) || ciphertext || tag (16)`.
    public static func aesGCMSeal(key: [UInt8], plaintext: [UInt8], aad: [UInt8]) -> [UInt8] {
        precondition(key.count == 32, "AES-256-GCM needs a 32-byte key, got \(key.count)")
        guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let nonce = randomBytes(aesGCMNonceBytes)
        // The default GCM IV length is 12: no EVP_CTRL_GCM_SET_IVLEN needed.
        guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1 else {
            fatalError("EVP_EncryptInit_ex(AES-256-GCM) failed: \(ERR_get_error())")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            let ok = aad.withUnsafeBufferPointer { a in
                EVP_EncryptUpdate(ctx, nil, &length, a.baseAddress, Int32(a.count))
            }
            precondition(ok == 1, "EVP_EncryptUpdate(aad) failed")
        }
        // GCM is a stream mode: the ciphertext is exactly as long as the plaintext.
        var out = nonce + [UInt8](repeating: 0, count: plaintext.count + aesGCMTagBytes)
        var written = 0
        out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let body = base + aesGCMNonceBytes
            if !plaintext.isEmpty {
                let ok = plaintext.withUnsafeBufferPointer { p in
                    EVP_EncryptUpdate(ctx, body, &length, p.baseAddress, Int32(p.count))
                }
                precondition(ok == 1, "EVP_EncryptUpdate failed")
                written = Int(length)
            }
            precondition(EVP_EncryptFinal_ex(ctx, body + written, &length) == 1, "EVP_EncryptFinal_ex failed")
            written += Int(length)
            precondition(written == plaintext.count, "AES-GCM wrote \(written) of \(plaintext.count) bytes")
            let ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(aesGCMTagBytes), body + written)
            precondition(ok == 1, "EVP_CTRL_GCM_GET_TAG failed")
        }
        return out
    }

    /// Checks and decrypts what `aesGCMSeal` produced.
    /// - Parameters:
    ///   - key: the 32-byte key it was sealed with.
    ///   - sealed: `nonce (12) || ciphertext || tag (16)`.
    ///   - aad: the same associated data given to `aesGCMSeal`.
    /// - Throws: `AEADError` when the key has the wrong size, the input is too
    ///   short, or authentication fails (wrong key, wrong `aad`, altered bytes).
    ///   No plaintext is ever returned from a message that failed.
    public static func aesGCMOpen(key: [UInt8], sealed: [UInt8], aad: [UInt8]) throws(AEADError) -> [UInt8] {
        guard key.count == 32 else { throw AEADError(message: "AES-256-GCM needs a 32-byte key, got \(key.count)") }
        guard sealed.count >= aesGCMNonceBytes + aesGCMTagBytes else {
            throw AEADError(message: "sealed message too short (\(sealed.count) bytes)")
        }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw AEADError(message: "EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let bodyCount = sealed.count - aesGCMNonceBytes - aesGCMTagBytes
        var plaintext = [UInt8](repeating: 0, count: bodyCount)
        let ok: Bool = sealed.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { return false }
            guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, base) == 1 else { return false }
            var length: Int32 = 0
            if !aad.isEmpty {
                let aadOK = aad.withUnsafeBufferPointer { a in
                    EVP_DecryptUpdate(ctx, nil, &length, a.baseAddress, Int32(a.count))
                }
                guard aadOK == 1 else { return false }
            }
            var written = 0
            let body = base + aesGCMNonceBytes
            let decrypted = plaintext.withUnsafeMutableBufferPointer { p -> Bool in
                if bodyCount > 0 {
                    guard let out = p.baseAddress,
                          EVP_DecryptUpdate(ctx, out, &length, body, Int32(bodyCount)) == 1 else { return false }
                    written = Int(length)
                }
                // The tag must be set before Final, which compares it in constant time.
                let tag = UnsafeMutableRawPointer(mutating: body + bodyCount)
                guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(aesGCMTagBytes), tag) == 1 else {
                    return false
                }
                // Final writes nothing for GCM; a scratch byte keeps the pointer valid when the body is empty.
                var scratch: UInt8 = 0
                let finalOK: Int32
                if let out = p.baseAddress {
                    finalOK = EVP_DecryptFinal_ex(ctx, out + written, &length)
                } else {
                    finalOK = EVP_DecryptFinal_ex(ctx, &scratch, &length)
                }
                return finalOK == 1
            }
            return decrypted
        }
        guard ok else {
            // Do not leak a partially decrypted, unauthenticated buffer.
            for index in plaintext.indices { plaintext[index] = 0 }
            throw AEADError(message: "authentication failed (wrong key, wrong associated data, or altered bytes)")
        }
        return plaintext
    }
}
