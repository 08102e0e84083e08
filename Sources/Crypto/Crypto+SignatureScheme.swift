import COpenSSL

extension Crypto {
    /// The asymmetric signature schemes the hub verifies (JWT RS256, ES256,
    /// EdDSA). A key serves exactly one scheme, decided by its type, so a
    /// caller can never verify with a scheme the key was not made for.
    public enum SignatureScheme: String, Sendable, CaseIterable {
        /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`).
        case rsaPKCS1SHA256
        /// ECDSA over P-256 with SHA-256 (JWT `ES256`); signatures are the
        /// raw 64-byte `r || s` of RFC 7518 §3.4, not DER.
        case ecdsaP256SHA256
        /// Pure Ed25519 (JWT `EdDSA`, RFC 8037).
        case ed25519
    }

    /// A PEM key that could not be used, with the reason.
    public struct KeyError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Why the key was refused.
        public let message: String

        public init(_ message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    /// Smallest RSA modulus accepted: NIST SP 800-57 and RFC 7518 §3.3
    /// (2048 bits); shorter keys are factorable or close to it.
    public static let minimumRSABits = 2048

    /// The scheme a parsed key serves, or a `KeyError` for types we refuse.
    static func scheme(of pkey: OpaquePointer) throws(KeyError) -> SignatureScheme {
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(pkey))
            guard bits >= minimumRSABits else {
                throw KeyError("RSA key of \(bits) bits; at least \(minimumRSABits) required")
            }
            return .rsaPKCS1SHA256
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pkey, &name, name.count, &length) == 1 else {
                throw KeyError("EC key without a named curve")
            }
            let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // OpenSSL names P-256 "prime256v1" (its X9.62 name).
            guard curve == "prime256v1" || curve == "P-256" else {
                throw KeyError("EC key on curve \(curve); only P-256 (ES256) is supported")
            }
            return .ecdsaP256SHA256
        case EVP_PKEY_ED25519:
            return .ed25519
        default:
            throw KeyError("unsupported key type (RSA, EC P-256 or Ed25519 expected)")
        }
    }

    /// Reads one key from PEM text with `read` (an OpenSSL `PEM_read_bio_*`)
    /// and decides its scheme; the key is freed if its type is refused.
    /// - Throws: `KeyError(notFound)` when `read` finds no key.
    static func readKey(_ pem: String, notFound: String,
                        _ read: (OpaquePointer) -> OpaquePointer?) throws(KeyError) -> (OpaquePointer, SignatureScheme) {
        guard let parsed = withMemoryBIO(pem, read) else {
            ERR_clear_error()
            throw KeyError(notFound)
        }
        do {
            return (parsed, try scheme(of: parsed))
        } catch {
            EVP_PKEY_free(parsed)
            throw error
        }
    }

    /// Runs `body` on a read-only memory BIO over `text`'s UTF-8 bytes.
    static func withMemoryBIO<T>(_ text: String, _ body: (OpaquePointer) -> T?) -> T? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0] }
        return bytes.withUnsafeBytes { raw -> T? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(text.utf8.count)) else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    /// Where a PEM block starts: OpenSSL skips text before `-----BEGIN`, but
    /// we also want to reject blobs that are not PEM at all with a clear message.
    static func looksLikePEM(_ text: String) -> Bool {
        text.contains("-----BEGIN ")
    }
}
