import COpenSSL

extension Crypto {
    /// A public key parsed from PEM (`-----BEGIN PUBLIC KEY-----`, SPKI, or PKCS#1 RSA),
    /// verifying with the one scheme its type implies.
    ///
    /// `@unchecked Sendable`: the `EVP_PKEY` is never mutated after init and
    /// OpenSSL 3 allows concurrent verifications on one key, each with its
    /// own `EVP_MD_CTX`.
    public final class PublicKey: @unchecked Sendable {
        private let pkey: OpaquePointer
        /// The scheme this key verifies; decided by the key type, never by a caller.
        public let scheme: SignatureScheme

        /// Parses one PEM public key (SPKI; OpenSSL 3 also decodes PKCS#1
        /// `RSA PUBLIC KEY`): RSA (≥ 2048 bits), EC P-256 or Ed25519.
        /// - Throws: `KeyError` for non-PEM text, private keys, other types or curves.
        public init(pem: String) throws(KeyError) {
            guard looksLikePEM(pem) else { throw KeyError("not PEM (no -----BEGIN line)") }
            if pem.contains("PRIVATE KEY-----") {
                // Refuse rather than derive: a private key in the verifier's
                // config is a leak waiting to happen.
                throw KeyError("a private key where a public key is expected")
            }
            (pkey, scheme) = try Crypto.readKey(pem, notFound: "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)") { bio in
                PEM_read_bio_PUBKEY(bio, nil, nil, nil)
            }
        }

        deinit { EVP_PKEY_free(pkey) }

        /// Verifies `signature` over `message` with this key's scheme.
        /// ES256 signatures are raw `r || s` (64 bytes); Ed25519 64 bytes.
        /// - Returns: false for a bad or malformed signature.
        public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
            let encoded: [UInt8]
            switch scheme {
            case .rsaPKCS1SHA256:
                encoded = signature
            case .ecdsaP256SHA256:
                guard let der = ecdsaRawToDER(signature) else { return false }
                encoded = der
            case .ed25519:
                guard signature.count == 64 else { return false }
                encoded = signature
            }
            guard !encoded.isEmpty, let ctx = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(ctx) }
            // Ed25519 hashes internally and takes no digest. RSA keys default
            // to PKCS#1 v1.5 padding, which is what RS256 means.
            let digest = scheme == .ed25519 ? nil : EVP_sha256()
            guard EVP_DigestVerifyInit(ctx, nil, digest, nil, pkey) == 1 else {
                ERR_clear_error()
                return false
            }
            // The empty message is valid; OpenSSL wants a non-nil pointer for it.
            let bytes = message.isEmpty ? [0] : message
            let ok = bytes.withUnsafeBufferPointer { m in
                encoded.withUnsafeBufferPointer { s in
                    EVP_DigestVerify(ctx, s.baseAddress, s.count, m.baseAddress, message.count)
                }
            }
            if ok != 1 { ERR_clear_error() }
            return ok == 1
        }
    }
}
