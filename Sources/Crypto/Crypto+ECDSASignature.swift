import COpenSSL

/// Conversions between JOSE's raw ECDSA signatures (`r || s`, each padded to
/// the curve size, RFC 7518 §3.4) and the DER `ECDSA-Sig-Value` OpenSSL uses.
extension Crypto {
    /// DER-encodes a raw `r || s` signature. Nil if the length is not twice
    /// `coordinateBytes` (JOSE fixes the length; anything else is malformed).
    public static func ecdsaRawToDER(_ raw: [UInt8], coordinateBytes: Int = 32) -> [UInt8]? {
        guard raw.count == 2 * coordinateBytes, let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(coordinateBytes), nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + coordinateBytes, Int32(coordinateBytes), nil) }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        // ECDSA_SIG_set0 takes ownership of r and s on success only.
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        let length = i2d_ECDSA_SIG(sig, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        return written == length ? der : nil
    }

    /// Converts a DER `ECDSA-Sig-Value` into raw `r || s`, each left-padded
    /// to `coordinateBytes`. Nil for malformed DER or oversized integers.
    public static func ecdsaDERToRaw(_ der: [UInt8], coordinateBytes: Int = 32) -> [UInt8]? {
        let sig: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let sig else { return nil }
        defer { ECDSA_SIG_free(sig) }
        guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig) else { return nil }
        var raw = [UInt8](repeating: 0, count: 2 * coordinateBytes)
        let ok = raw.withUnsafeMutableBufferPointer { buffer -> Bool in
            BN_bn2binpad(r, buffer.baseAddress, Int32(coordinateBytes)) == Int32(coordinateBytes)
                && BN_bn2binpad(s, buffer.baseAddress! + coordinateBytes, Int32(coordinateBytes)) == Int32(coordinateBytes)
        }
        return ok ? raw : nil
    }
}
