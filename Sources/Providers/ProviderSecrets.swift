import Crypto

/// The per-provider secrets of PROTOCOL.md §8 (`providers.*`) and the public
/// URL providers call. A nil secret leaves its route unconfigured: 404.
public struct ProviderSecrets: Sendable {
    /// `providers.twilio.authToken`: HMAC-SHA1 key of `X-Twilio-Signature`.
    public var twilioAuthToken: String?
    /// `providers.elevenlabs.secret`: the webhook's HMAC secret (`wsec_…`).
    public var elevenlabsSecret: String?
    /// `providers.agora.secret`: the NCS secret.
    public var agoraSecret: String?
    /// `providers.telnyx.publicKey`: base64 of the raw 32-byte Ed25519 key,
    /// as Telnyx's portal shows it.
    public var telnyxPublicKey: String?
    /// `providers.generic.secret`: signs `/webhooks/generic/…` and
    /// `/webhooks/asterisk` (`X-Switchboard-Signature`).
    public var genericSecret: String?
    /// `server.publicUrl`, e.g. `https://hub.example.com`: the base of the
    /// URL Twilio signs.
    public var publicUrl: String
    /// `providers.elevenlabs.summaryMaxChars`: the longest
    /// `metadata.transcriptSummary` kept from a `post_call_transcription`.
    public var elevenlabsSummaryMaxChars: Int

    public init(twilioAuthToken: String? = nil, elevenlabsSecret: String? = nil,
                agoraSecret: String? = nil, telnyxPublicKey: String? = nil,
                genericSecret: String? = nil, publicUrl: String = "http://localhost:8080",
                elevenlabsSummaryMaxChars: Int = ElevenLabs.defaultSummaryMaxChars) {
        self.twilioAuthToken = twilioAuthToken
        self.elevenlabsSecret = elevenlabsSecret
        self.agoraSecret = agoraSecret
        self.telnyxPublicKey = telnyxPublicKey
        self.genericSecret = genericSecret
        self.publicUrl = publicUrl
        self.elevenlabsSummaryMaxChars = elevenlabsSummaryMaxChars
    }

    /// Problems a config loader should refuse at start, each naming its key:
    /// an empty secret, a Telnyx key that is not base64 of 32 bytes, a
    /// public URL that is not `http(s)://host…`. Empty when all is well.
    public var validationErrors: [String] {
        var errors: [String] = []
        let secrets: [(String, String?)] = [
            ("providers.twilio.authToken", twilioAuthToken),
            ("providers.elevenlabs.secret", elevenlabsSecret),
            ("providers.agora.secret", agoraSecret),
            ("providers.generic.secret", genericSecret),
        ]
        for (key, value) in secrets where value?.isEmpty == true {
            errors.append("\(key): must not be empty")
        }
        if let key = telnyxPublicKey, telnyxKeyBytes == nil {
            errors.append("providers.telnyx.publicKey: expected base64 of a raw 32-byte Ed25519 key, got \(key.count) characters")
        }
        if !(publicUrl.hasPrefix("https://") || publicUrl.hasPrefix("http://")) {
            errors.append("server.publicUrl: must start with http:// or https://")
        }
        return errors
    }

    /// The decoded Telnyx key, nil if absent or malformed.
    var telnyxKeyBytes: [UInt8]? {
        guard let text = telnyxPublicKey?.trimmingSpaces(),
              let key = Crypto.base64Decode(text) ?? Crypto.base64URLDecode(text),
              key.count == 32 else { return nil }
        return key
    }
}
