import Auth
import Hub
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 29: the `providers.twilio.*` keys that sign Voice access tokens,
/// and `providers.elevenlabs.summaryMaxChars`.
@Suite struct TwilioConfigTests {
    static let keys = #"{"providers":{"twilio":{"accountSid":"AC1","apiKeySid":"SK1","apiKeySecret":"sec","twimlAppSid":"AP1"}}}"#

    @Test func defaultsLeaveTokensOffWithAnHourLifetimeAnd500CharSummaries() throws {
        let c = try ConfigLoader.load(fileBytes: nil, environment: [:])
        #expect(c.twilioAccessToken == nil)
        #expect(c.providers.twilioTokenTtlSec == 3600)
        #expect(c.providers.elevenlabsSummaryMaxChars == 500)
        #expect(c.providerSecrets.elevenlabsSummaryMaxChars == 500)
    }

    @Test func theKeysFromTheFileMakeATokenMinter() throws {
        let c = try ConfigLoader.load(fileBytes: Array(Self.keys.utf8), environment: [:])
        #expect(c.twilioAccessToken == TwilioAccessToken(accountSid: "AC1", apiKeySid: "SK1", apiKeySecret: "sec",
                                                         twimlAppSid: "AP1", ttlSec: 3600))
    }

    @Test func theKeysFromTheEnvironmentAndTheSecretFromAFile() throws {
        let path = "/tmp/sb-twilio-secret-\(UInt32.random(in: 0...UInt32.max))"
        let f = fopen(path, "w")!
        fputs("from-a-file\n", f)
        fclose(f)
        defer { remove(path) }
        let c = try ConfigLoader.load(fileBytes: nil, environment: [
            "SWITCHBOARD_PROVIDERS_TWILIO_ACCOUNT_SID": "AC2", "SWITCHBOARD_PROVIDERS_TWILIO_APIKEYSID": "SK2",
            "SWITCHBOARD_PROVIDERS_TWILIO_API_KEY_SECRET": "@" + path, "SWITCHBOARD_PROVIDERS_TWILIO_TOKEN_TTL_SEC": "600",
            "SWITCHBOARD_PROVIDERS_ELEVENLABS_SUMMARY_MAX_CHARS": "0",
        ])
        let minter = try #require(c.twilioAccessToken)
        #expect(minter.accountSid == "AC2" && minter.apiKeySid == "SK2" && minter.apiKeySecret == "from-a-file")
        #expect(minter.twimlAppSid == nil && minter.ttlSec == 600)
        #expect(c.providers.elevenlabsSummaryMaxChars == 0)
    }

    @Test(arguments: [
        (#"{"providers":{"twilio":{"accountSid":"AC1","apiKeySid":"SK1"}}}"#, "providers.twilio.apiKeySecret"),
        (#"{"providers":{"twilio":{"apiKeySid":"SK1","apiKeySecret":"s"}}}"#, "providers.twilio.accountSid"),
        (#"{"providers":{"twilio":{"twimlAppSid":"AP1"}}}"#, "providers.twilio.accountSid"),
        (#"{"providers":{"twilio":{"tokenTtlSec":0}}}"#, "providers.twilio.tokenTtlSec"),
        (#"{"providers":{"twilio":{"tokenTtlSec":86401}}}"#, "providers.twilio.tokenTtlSec"),
        (#"{"providers":{"twilio":{"apiKeySecret":7}}}"#, "providers.twilio.apiKeySecret"),
        (#"{"providers":{"elevenlabs":{"summaryMaxChars":-1}}}"#, "providers.elevenlabs.summaryMaxChars"),
        (#"{"providers":{"twilio":{"apiKey":"SK1"}}}"#, "providers.twilio.apiKey"),
    ])
    func aHalfConfiguredOrInvalidKeyStopsTheStartNamingIt(json: String, key: String) {
        do {
            _ = try ConfigLoader.load(fileBytes: Array(json.utf8), environment: [:])
            Issue.record("\(json) was accepted")
        } catch {
            #expect(error.key == key)
            #expect(error.description.contains(key))
        }
    }
}
