import Auth
import Providers

extension HubConfig {
    /// The `providers.*` secrets and `server.publicUrl`, as the webhook parsers take them.
    public var providerSecrets: ProviderSecrets {
        ProviderSecrets(twilioAuthToken: providers.twilioAuthToken, elevenlabsSecret: providers.elevenlabsSecret,
                        agoraSecret: providers.agoraSecret, telnyxPublicKey: providers.telnyxPublicKey,
                        genericSecret: providers.genericSecret, publicUrl: server.publicUrl,
                        elevenlabsSummaryMaxChars: providers.elevenlabsSummaryMaxChars)
    }

    /// What Twilio Voice access tokens are minted with, or nil while
    /// `providers.twilio.accountSid`, `apiKeySid` and `apiKeySecret` are not
    /// all set (initiate then answers `twilioToken: null`).
    public var twilioAccessToken: TwilioAccessToken? {
        guard let account = providers.twilioAccountSid, let keySid = providers.twilioApiKeySid,
              let secret = providers.twilioApiKeySecret else { return nil }
        return TwilioAccessToken(accountSid: account, apiKeySid: keySid, apiKeySecret: secret,
                                 twimlAppSid: providers.twilioTwimlAppSid, ttlSec: Int64(providers.twilioTokenTtlSec))
    }

    /// A half-configured Twilio API key, refused at start: the three keys
    /// that sign a token come together, and a TwiML app needs them. Names
    /// the first key missing.
    var twilioAccessTokenProblem: (key: String, reason: String)? {
        let signing: [(String, String?)] = [
            ("providers.twilio.accountSid", providers.twilioAccountSid),
            ("providers.twilio.apiKeySid", providers.twilioApiKeySid),
            ("providers.twilio.apiKeySecret", providers.twilioApiKeySecret),
        ]
        let given = signing.filter { $0.1 != nil }.map(\.0)
        guard !given.isEmpty || providers.twilioTwimlAppSid != nil else { return nil }
        guard let missing = signing.first(where: { $0.1 == nil })?.0 else { return nil }
        let reason = given.isEmpty
            ? "required with providers.twilio.twimlAppSid (Voice access tokens are signed with an API key)"
            : "required with \(given.joined(separator: ", ")) (Voice access tokens need all three)"
        return (missing, reason)
    }
}
