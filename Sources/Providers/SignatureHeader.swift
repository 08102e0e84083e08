import Crypto

/// The `t=<unix seconds>,v1=<hex>` signature header shared by ElevenLabs
/// (`v0`), generic webhooks and Asterisk (`v1`): an HMAC-SHA256 over
/// `"<t>.<body>"`, so a captured request cannot be replayed outside the
/// tolerance window.
struct SignatureHeader {
    /// The signing time, seconds since the epoch.
    var timestamp: Int64?
    /// Every `key=value` pair except `t`, by key; a key may repeat (several
    /// `v1` during a secret rotation).
    var values: [String: [String]]

    /// One pass over the bytes (this runs for every signed webhook): items
    /// split at `,`, key and value at the first `=`, spaces and tabs trimmed.
    init(parsing header: String) {
        timestamp = nil
        values = [:]
        let bytes = Array(header.utf8)
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
            if let eq = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) {
                let key = bytes[start..<eq].trimmingSpaces()
                let value = bytes[(eq + 1)..<end].trimmingSpaces()
                if key.elementsEqual("t".utf8) {
                    timestamp = Int64(String(decoding: value, as: UTF8.self))
                } else {
                    values[String(decoding: key, as: UTF8.self), default: []].append(String(decoding: value, as: UTF8.self))
                }
            }
            start = end + 1
        }
    }

    /// Signs `body` at `timestamp` (seconds): the header value a sender puts
    /// in `X-Switchboard-Signature` (`scheme` `v1`) or a test in
    /// `ElevenLabs-Signature` (`v0`).
    static func sign(secret: String, timestamp: Int64, body: [UInt8], scheme: String = "v1") -> String {
        let mac = Crypto.hmacSHA256(key: Array(secret.utf8), parts: [Array("\(timestamp).".utf8), body])
        return "t=\(timestamp),\(scheme)=\(Crypto.hex(mac))"
    }

    /// Checks the header of a request: present, parseable, fresh within
    /// `toleranceSeconds` of `now` (both directions: a future `t` is as
    /// suspicious as an old one), and one of its `scheme` values equal in
    /// constant time to the HMAC.
    static func verify(_ header: String?, name: String, scheme: String, secret: String,
                       body: [UInt8], now: Int64, toleranceSeconds: Int64) throws(WebhookError) {
        let pending = try begin(header, name: name, scheme: scheme, secret: secret, now: now,
                                toleranceSeconds: toleranceSeconds)
        pending.mac.update(body)
        try pending.finish()
    }

    /// A signature check whose body arrives later, in chunks: the header is
    /// parsed and its freshness checked now; feed the body to `mac`.
    struct Pending {
        let name: String
        let candidates: [String]
        let mac: Crypto.HMAC

        /// Compares the MAC of everything fed with the header's values.
        func finish() throws(WebhookError) {
            let expected = mac.finalize()
            var matched = false
            for candidate in candidates {
                // Decoding the hex compares bytes, so upper-case hex is fine too.
                if let given = Crypto.fromHex(candidate), Crypto.constantTimeEquals(given, expected) { matched = true }
            }
            guard matched else { throw .unauthorized("\(name) does not match") }
        }
    }

    /// Parses the header and checks its timestamp; the MAC starts with `"<t>."`.
    static func begin(_ header: String?, name: String, scheme: String, secret: String, now: Int64,
                      toleranceSeconds: Int64) throws(WebhookError) -> Pending {
        guard let header, !header.isEmpty else { throw .unauthorized("missing \(name) header") }
        let parsed = SignatureHeader(parsing: header)
        guard let t = parsed.timestamp, let candidates = parsed.values[scheme], !candidates.isEmpty else {
            throw .unauthorized("malformed \(name) header: expected t=…,\(scheme)=…")
        }
        guard abs(now / 1000 - t) <= toleranceSeconds else {
            throw .unauthorized("\(name) timestamp outside the \(toleranceSeconds) s tolerance")
        }
        let mac = Crypto.HMAC(digest: "SHA256", key: Array(secret.utf8))
        mac.update(Array("\(t).".utf8))
        return Pending(name: name, candidates: candidates, mac: mac)
    }
}
