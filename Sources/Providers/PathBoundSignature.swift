import Crypto

/// The generic / Asterisk signature (PROTOCOL.md §6, v1.1), bound to the
/// request target it was made for.
///
/// `X-Switchboard-Signature: t=<s>,v1=<hex>,v2=<hex>` with
/// - `v1` = HMAC-SHA256(secret, `"<t>.<body>"`): valid on any path, so the
///   hub remembers it (`SignatureMemory`) and refuses it on another target;
/// - `v2` = HMAC-SHA256(secret, `"<t>.<target>.<body>"`), where `target` is
///   the request path as sent plus `?<query>` when the request has one
///   (`/webhooks/generic/call-42`, `/webhooks/asterisk?session=call-42`):
///   bound by itself, nothing to remember.
///
/// Either scheme is accepted; several values of each may be sent (secret
/// rotation), one must match.
public struct SignatureBinding: Sendable, Equatable {
    /// The MAC of a matched `v1` value (or a `v2` over the bare path of a
    /// request that has a query): proof that does not name this target, which
    /// the hub must remember. Nil when a `v2` over the full target matched.
    public var unboundMAC: [UInt8]?
    /// The request target the signature is used on: path plus `?query`.
    public var target: String
    /// The signature's `t` (unix seconds): it stops verifying after
    /// `t + toleranceSeconds`, so the memory may forget it then.
    public var timestamp: Int64
    /// The window this signature is accepted in, seconds either side of `t`.
    public var toleranceSeconds: Int64

    /// When the hub may forget the signature: no request can verify with it
    /// from then on (unix seconds).
    public var expiresAt: Int64 { timestamp + toleranceSeconds + 1 }
}

extension SignatureHeader {
    /// The target string of `v2`: the path, plus `?` and the raw query when
    /// the request has one.
    static func target(path: String, rawQuery: String?) -> String {
        guard let rawQuery, !rawQuery.isEmpty else { return path }
        return path + "?" + rawQuery
    }

    /// Signs `body` for `target` with the path-bound `v2` scheme: the header
    /// value a sender puts in `X-Switchboard-Signature`.
    public static func signV2(secret: String, timestamp: Int64, target: String, body: [UInt8]) -> String {
        let mac = Crypto.hmacSHA256(key: Array(secret.utf8), parts: [Array("\(timestamp).\(target).".utf8), body])
        return "t=\(timestamp),v2=\(Crypto.hex(mac))"
    }

    /// Verifies a generic / Asterisk signature header for `request`: fresh
    /// within `toleranceSeconds`, and a `v2` over the target or a `v1` over
    /// the body matches. Returns what the hub has to remember, if anything.
    static func verifyBound(_ request: WebhookRequest, secret: String, now: Int64,
                            toleranceSeconds: Int64) throws(WebhookError) -> SignatureBinding {
        let name = "X-Switchboard-Signature"
        guard let header = request.headers["x-switchboard-signature"], !header.isEmpty else {
            throw .unauthorized("missing \(name) header")
        }
        let parsed = SignatureHeader(parsing: header)
        let v1 = parsed.values["v1"] ?? []
        let v2 = parsed.values["v2"] ?? []
        guard let t = parsed.timestamp, !(v1.isEmpty && v2.isEmpty) else {
            throw .unauthorized("malformed \(name) header: expected t=…,v1=… or t=…,v2=…")
        }
        guard abs(now / 1000 - t) <= toleranceSeconds else {
            throw .unauthorized("\(name) timestamp outside the \(toleranceSeconds) s tolerance")
        }
        let key = Array(secret.utf8)
        let target = target(path: request.path, rawQuery: request.rawQuery)
        var binding = SignatureBinding(unboundMAC: nil, target: target, timestamp: t, toleranceSeconds: toleranceSeconds)
        if !v2.isEmpty {
            let bound = Crypto.hmacSHA256(key: key, parts: [Array("\(t).\(target).".utf8), request.body])
            if matches(v2, bound) { return binding }
            // A sender that signs the path alone on a request with a query:
            // valid, but the query (`?session=`) is not covered, so remember it.
            if target != request.path {
                let pathOnly = Crypto.hmacSHA256(key: key, parts: [Array("\(t).\(request.path).".utf8), request.body])
                if matches(v2, pathOnly) {
                    binding.unboundMAC = pathOnly
                    return binding
                }
            }
        }
        if !v1.isEmpty {
            let mac = Crypto.hmacSHA256(key: key, parts: [Array("\(t).".utf8), request.body])
            if matches(v1, mac) {
                binding.unboundMAC = mac
                return binding
            }
        }
        throw .unauthorized("\(name) does not match")
    }

    /// Whether one of the hex `candidates` equals `expected`, compared in
    /// constant time (every candidate is compared).
    private static func matches(_ candidates: [String], _ expected: [UInt8]) -> Bool {
        var matched = false
        for candidate in candidates {
            if let given = Crypto.fromHex(candidate), Crypto.constantTimeEquals(given, expected) { matched = true }
        }
        return matched
    }
}
