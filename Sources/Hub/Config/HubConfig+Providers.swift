import Providers

extension HubConfig {
    /// The `providers.*` secrets and `server.publicUrl`, as the webhook parsers take them.
    public var providerSecrets: ProviderSecrets {
        ProviderSecrets(twilioAuthToken: providers.twilioAuthToken, elevenlabsSecret: providers.elevenlabsSecret,
                        agoraSecret: providers.agoraSecret, telnyxPublicKey: providers.telnyxPublicKey,
                        genericSecret: providers.genericSecret, publicUrl: server.publicUrl)
    }
}
