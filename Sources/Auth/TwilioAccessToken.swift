import CallState

/// A Twilio Voice access token, in the format Twilio's helper libraries
/// publish (twilio-python `AccessToken` + `VoiceGrant`, twilio-node
/// `AccessToken`): the browser's `Twilio.Device` registers and places calls
/// with it.
///
/// A JWT signed HS256 with an API key's secret:
/// - header `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`;
/// - `jti` `<apiKeySid>-<iat>`, `iss` the API key SID, `sub` the account
///   SID, `iat` and `nbf` the minting time (twilio-node writes `iat`,
///   twilio-python `nbf`; both are harmless to Twilio), `exp` `iat + ttl`;
/// - `grants`: `{"identity": …, "voice": {"incoming": {"allow": true},
///   "outgoing": {"application_sid": <TwiML app SID>}}}`; without a TwiML
///   app the `outgoing` grant is left out and the token only receives calls.
public struct TwilioAccessToken: Sendable, Equatable {
    /// The account (`AC…`) the token acts for: the JWT's `sub`.
    public var accountSid: String
    /// The API key (`SK…`) that signs: the JWT's `iss` and the `jti` prefix.
    public var apiKeySid: String
    /// The API key's secret: the HMAC-SHA256 key.
    public var apiKeySecret: String
    /// The TwiML app (`AP…`) Twilio runs for `device.connect()`; nil: no
    /// outgoing grant.
    public var twimlAppSid: String?
    /// Lifetime in seconds; Twilio accepts at most 24 hours.
    public var ttlSec: Int64

    public init(accountSid: String, apiKeySid: String, apiKeySecret: String, twimlAppSid: String?, ttlSec: Int64) {
        self.accountSid = accountSid
        self.apiKeySid = apiKeySid
        self.apiKeySecret = apiKeySecret
        self.twimlAppSid = twimlAppSid
        self.ttlSec = ttlSec
    }

    /// A minted token and when it stops working.
    public struct Minted: Sendable, Equatable {
        public var jwt: String
        /// The `exp` claim, seconds since the epoch.
        public var expiresAtSec: Int64
    }

    /// Mints a token for `identity` (the Voice SDK client name Twilio rings
    /// with `<Client>identity</Client>` and reports as `From=client:identity`).
    /// - Parameter nowSec: the minting time, seconds since the epoch.
    public func mint(identity: String, nowSec: Int64) -> Minted {
        let exp = nowSec + ttlSec
        let jwt = TokenMinter.hs256(header: ["cty": "twilio-fpa;v=1"], payload: payload(identity: identity, nowSec: nowSec),
                                    secret: Array(apiKeySecret.utf8))
        return Minted(jwt: jwt, expiresAtSec: exp)
    }

    /// The claims of a token minted at `nowSec`.
    public func payload(identity: String, nowSec: Int64) -> JSONValue {
        var voice: [String: JSONValue] = ["incoming": ["allow": true]]
        if let twimlAppSid { voice["outgoing"] = ["application_sid": .string(twimlAppSid)] }
        return [
            "jti": .string("\(apiKeySid)-\(nowSec)"),
            "iss": .string(apiKeySid),
            "sub": .string(accountSid),
            "iat": .int(nowSec),
            "nbf": .int(nowSec),
            "exp": .int(nowSec + ttlSec),
            "grants": ["identity": .string(identity), "voice": .object(voice)],
        ]
    }

    /// The identity a session's caller gets when the backend names none:
    /// `user-<sub>-<sessionId>`, `sub` being the requesting token's.
    public static func defaultIdentity(sub: String, sessionId: String) -> String {
        "user-\(sub)-\(sessionId)"
    }
}
