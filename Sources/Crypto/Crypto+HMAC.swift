import COpenSSL
import Synchronization

extension Crypto {
    /// An HMAC computed incrementally, for bodies too large to hold: feed
    /// chunks as they arrive, then `finalize` once.
    public final class HMAC {
        /// Fetched once: `EVP_MAC_fetch` takes a lock and walks the provider
        /// store, and the fetched algorithm is immutable and thread-safe to share.
        nonisolated(unsafe) private static let algorithm: OpaquePointer? = EVP_MAC_fetch(nil, "HMAC", nil)

        private let ctx: OpaquePointer
        /// The keyed template `ctx` came from, to give it back to on deinit.
        private let origin: Template?

        /// Keyed contexts by digest and key, copied for each MAC.
        ///
        /// `EVP_MAC_init` fetches the digest from the provider store and
        /// hashes the key into the inner and outer pads on every call; a
        /// webhook secret is the same on every request, so that is done once
        /// and `EVP_MAC_CTX_dup` copies the result (BENCHMARKS.md). A short
        /// list searched in order (a deployment has a handful of secrets, and
        /// comparing a few keys is cheaper than hashing one); past
        /// `templateLimit` keys, contexts are built from scratch.
        private static let templates = Mutex<[Template]>([])
        private static let templateLimit = 64
        /// Finished contexts kept per key for reuse: re-initialising one with
        /// its own key copies one digest state, where a fresh copy of the
        /// template allocates and frees about ten objects.
        private static let spareLimit = 8

        /// One keyed context, owned for the life of the process, and the
        /// finished contexts of its key waiting to be reused (under the lock).
        private final class Template: @unchecked Sendable {
            let digest: String
            let key: [UInt8]
            let ctx: OpaquePointer
            var spares: [OpaquePointer] = []
            init(digest: String, key: [UInt8], ctx: OpaquePointer) {
                self.digest = digest
                self.key = key
                self.ctx = ctx
            }
            deinit {
                EVP_MAC_CTX_free(ctx)
                spares.forEach(EVP_MAC_CTX_free)
            }
        }

        /// - Parameters:
        ///   - digest: OpenSSL digest name, `SHA256` or `SHA1`.
        public init(digest: String, key: [UInt8]) {
            let (ctx, origin, reused) = HMAC.templates.withLock { templates -> (OpaquePointer, Template?, Bool) in
                if let template = templates.first(where: { $0.key == key && $0.digest == digest }) {
                    if let spare = template.spares.popLast() { return (spare, template, true) }
                    if let copy = EVP_MAC_CTX_dup(template.ctx) { return (copy, template, false) }
                }
                let fresh = HMAC.keyedContext(digest: digest, key: key)
                if templates.count < HMAC.templateLimit, let template = EVP_MAC_CTX_dup(fresh) {
                    templates.append(Template(digest: digest, key: key, ctx: template))
                }
                return (fresh, nil, false)
            }
            // A NULL key re-initialises with the key the context already holds.
            if reused {
                precondition(EVP_MAC_init(ctx, nil, 0, nil) == 1, "EVP_MAC_init(reuse) failed: \(ERR_get_error())")
            }
            self.ctx = ctx
            self.origin = origin
        }

        private static func keyedContext(digest: String, key: [UInt8]) -> OpaquePointer {
            guard let algorithm = HMAC.algorithm, let ctx = EVP_MAC_CTX_new(algorithm) else {
                fatalError("OpenSSL has no HMAC")
            }
            var initOK: Int32 = 0
            // OSSL_PARAM keeps both pointers: they must outlive EVP_MAC_init.
            digest.withCString { name in
                "digest".withCString { paramName in
                    var params = [
                        OSSL_PARAM_construct_utf8_string(paramName, UnsafeMutablePointer(mutating: name), 0),
                        OSSL_PARAM_construct_end(),
                    ]
                    // OpenSSL 3.0 refuses a zero-length HMAC key. HMAC pads the key
                    // with zeros to the block size, so "" and "\0" are the same key.
                    let keyBytes: [UInt8] = key.isEmpty ? [0] : key
                    initOK = keyBytes.withUnsafeBufferPointer { k in
                        EVP_MAC_init(ctx, k.baseAddress, k.count, &params)
                    }
                }
            }
            precondition(initOK == 1, "EVP_MAC_init(HMAC-\(digest)) failed: \(ERR_get_error())")
            return ctx
        }

        deinit {
            let kept = origin.map { template in
                HMAC.templates.withLock { _ in
                    guard template.spares.count < HMAC.spareLimit else { return false }
                    template.spares.append(ctx)
                    return true
                }
            } ?? false
            if !kept { EVP_MAC_CTX_free(ctx) }
        }

        /// Adds bytes to the message.
        public func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            let ok = EVP_MAC_update(ctx, base.assumingMemoryBound(to: UInt8.self), bytes.count)
            precondition(ok == 1, "EVP_MAC_update failed")
        }

        /// Adds bytes to the message.
        public func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        /// The MAC of everything fed so far. Call once.
        public func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length = 0
            let ok = EVP_MAC_final(ctx, &out, &length, out.count)
            precondition(ok == 1, "EVP_MAC_final failed")
            out.removeSubrange(length...)
            return out
        }
    }
}
