import CallState
import Crypto
import JSONCodec

/// Mints tokens the verifier accepts: `switchboard token`, `POST
/// /api/calls/initiate`, the simulator and tests.
public enum TokenMinter {
    /// An HS256 token: header `{"alg":"HS256","typ":"JWT"}`, `claims` as the payload.
    public static func hs256(_ claims: Claims, secret: [UInt8]) -> String {
        hs256(header: [:], payload: payload(claims), secret: secret)
    }

    /// An HS256 token over any payload, for tokens other services read
    /// (Twilio access tokens). `alg` and `typ` are set here; `header` adds
    /// members such as `cty`.
    public static func hs256(header: [String: JSONValue], payload: JSONValue, secret: [UInt8]) -> String {
        var fields = header
        fields["alg"] = .string("HS256")
        fields["typ"] = .string("JWT")
        let input = signingInput(header: fields, payload: payload)
        return input + "." + Crypto.base64URLEncode(Crypto.hmacSHA256(key: secret, message: Array(input.utf8)))
    }

    /// An RS256, ES256 or EdDSA token, the algorithm following the key type.
    /// - Parameter kid: written into the header when given.
    /// - Returns: nil only if OpenSSL fails to sign.
    public static func sign(_ claims: Claims, privateKey: Crypto.PrivateKey, kid: String? = nil) -> String? {
        var header: [String: JSONValue] = ["typ": .string("JWT")]
        if let kid { header["kid"] = .string(kid) }
        return sign(header: header, payload: payload(claims), privateKey: privateKey)
    }

    /// A compact JWS over any payload, for tokens other services read (APNs
    /// provider tokens, OAuth assertions). `alg` follows the key type;
    /// `header` adds the other members (`kid`, `typ`), nothing is implied.
    /// - Returns: nil only if OpenSSL fails to sign.
    public static func sign(header: [String: JSONValue], payload: JSONValue, privateKey: Crypto.PrivateKey) -> String? {
        var fields = header
        fields["alg"] = .string(JWTAlgorithm(scheme: privateKey.scheme).rawValue)
        let input = signingInput(header: fields, payload: payload)
        guard let signature = privateKey.sign(message: Array(input.utf8)) else { return nil }
        return input + "." + Crypto.base64URLEncode(signature)
    }

    /// The claims as the JSON payload object (absent optionals omitted).
    public static func payload(_ claims: Claims) -> JSONValue {
        var object: [String: JSONValue] = [
            "sub": .string(claims.sub),
            "role": .string(claims.role.rawValue),
            "exp": .int(claims.exp),
        ]
        if let sid = claims.sid { object["sid"] = .string(sid) }
        if let nbf = claims.nbf { object["nbf"] = .int(nbf) }
        if let iat = claims.iat { object["iat"] = .int(iat) }
        if let aud = claims.aud { object["aud"] = .string(aud) }
        return .object(object)
    }

    private static func signingInput(header: [String: JSONValue], payload: JSONValue) -> String {
        Crypto.base64URLEncode(JSONCodec.encode(.object(header))) + "."
            + Crypto.base64URLEncode(JSONCodec.encode(payload))
    }
}
