import COpenSSL

extension Crypto {
    /// A private key parsed from PEM (PKCS#8 `-----BEGIN PRIVATE KEY-----`
    /// or a traditional RSA / EC block), signing with the one scheme its type
    /// implies. For tests, `switchboard simulate` and minting asymmetric tokens.
    ///
    /// `@unchecked Sendable`: the `EVP_PKEY` is never mutated after init and
    /// each signature uses its own `EVP_MD_CTX`.
    public final class PrivateKey: @unchecked Sendable {
        private let pkey: OpaquePointer
        /// The scheme this key signs with.
        public let scheme: SignatureScheme

        /// Parses an unencrypted PEM private key: RSA (≥ 2048 bits), EC P-256 or Ed25519.
        public init(pem: String) throws(KeyError) {
            guard looksLikePEM(pem) else { throw KeyError("not PEM (no -----BEGIN line)") }
            (pkey, scheme) = try Crypto.readKey(pem, notFound: "not an unencrypted PEM private key") { bio in
                PEM_read_bio_PrivateKey(bio, nil, nil, nil)
            }
        }

        deinit { EVP_PKEY_free(pkey) }

        /// The matching public key as SPKI PEM.
        public var publicKeyPEM: String {
            guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new failed") }
            defer { BIO_free(bio) }
            precondition(PEM_write_bio_PUBKEY(bio, pkey) == 1, "PEM_write_bio_PUBKEY failed")
            var pointer: UnsafeMutablePointer<CChar>?
            // BIO_get_mem_data is a macro over BIO_ctrl.
            let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
            guard let pointer, length > 0 else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
        }

        /// Signs `message`. ES256 signatures come back raw `r || s` (64 bytes).
        /// - Returns: nil only if OpenSSL fails.
        public func sign(message: [UInt8]) -> [UInt8]? {
            guard let ctx = EVP_MD_CTX_new() else { return nil }
            defer { EVP_MD_CTX_free(ctx) }
            let digest = scheme == .ed25519 ? nil : EVP_sha256()
            guard EVP_DigestSignInit(ctx, nil, digest, nil, pkey) == 1 else {
                ERR_clear_error()
                return nil
            }
            let bytes = message.isEmpty ? [0] : message
            var length = 0
            // First call sizes the output (an upper bound for ECDSA's DER).
            let sized = bytes.withUnsafeBufferPointer { m in
                EVP_DigestSign(ctx, nil, &length, m.baseAddress, message.count)
            }
            guard sized == 1, length > 0 else { return nil }
            var signature = [UInt8](repeating: 0, count: length)
            let ok = bytes.withUnsafeBufferPointer { m in
                EVP_DigestSign(ctx, &signature, &length, m.baseAddress, message.count)
            }
            guard ok == 1 else {
                ERR_clear_error()
                return nil
            }
            signature.removeSubrange(length...)
            return scheme == .ecdsaP256SHA256 ? ecdsaDERToRaw(signature) : signature
        }
    }
}
