import Hub
import HubTestSupport
import Testing

/// PROTOCOL.md §8 layering: file, then `SWITCHBOARD_*`, then flags.
@Suite struct ConfigLoaderTests {
    let file = Array(#"{"server":{"port":9000,"publicUrl":"https://hub.example.com"},"limits":{"maxMessageBytes":2048}}"#.utf8)

    @Test func defaultsMatchTheProtocolTable() throws {
        let c = try ConfigLoader.load(fileBytes: nil, environment: [:])
        #expect(c.server.port == 8080 && c.server.host == "0.0.0.0")
        #expect(c.limits.maxMessageBytes == 65536 && c.limits.sendQueueBytes == 1_048_576)
        #expect(c.keepalive.pingSec == 25 && c.keepalive.timeoutSec == 60)
        #expect(c.merge.pendingWindowMs == 3000 && c.quality.intervalMs == 1000 && c.dashboard.intervalMs == 250)
        #expect(c.retention.replayFrames == 256 && c.shutdown.drainSec == 10)
    }

    @Test func growthAndRateLimitKeysHaveDefaultsAndAreChecked() throws {
        let c = try ConfigLoader.load(fileBytes: nil, environment: [:])
        #expect(c.limits.maxMetadataKeys == 64 && c.limits.maxMetadataValueBytes == 1024 && c.limits.maxDocumentBytes == 65536)
        #expect(c.limits.httpWritesPerSecond == 50 && c.limits.httpWriteBurst == 100)
        #expect(c.limits.maxRememberedSignatures == 65536)
        let set = try ConfigLoader.load(fileBytes: Array(#"{"limits":{"maxMetadataKeys":8,"maxRememberedSignatures":10}}"#.utf8),
                                        environment: ["SWITCHBOARD_LIMITS_HTTPWRITESPERSECOND": "5"])
        #expect(set.limits.maxMetadataKeys == 8 && set.limits.maxRememberedSignatures == 10 && set.limits.httpWritesPerSecond == 5)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileBytes: Array(#"{"limits":{"maxDocumentBytes":10}}"#.utf8), environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileBytes: Array(#"{"limits":{"maxMetadataKeys":0}}"#.utf8), environment: [:]) }
    }

    @Test func historyKeysHaveTheirDefaultsAndAreChecked() throws {
        let c = try ConfigLoader.load(fileBytes: nil, environment: [:])
        #expect(c.history.retentionDays == 30 && c.history.qualityPoints == 3600)
        let set = try ConfigLoader.load(fileBytes: Array(#"{"history":{"retentionDays":7}}"#.utf8),
                                        environment: ["SWITCHBOARD_HISTORY_QUALITYPOINTS": "600"])
        #expect(set.history.retentionDays == 7 && set.history.qualityPoints == 600)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileBytes: Array(#"{"history":{"retentionDays":0}}"#.utf8), environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileBytes: Array(#"{"history":{"qualityPoint":10}}"#.utf8), environment: [:]) }
    }

    @Test func environmentOverridesFileAndFlagsOverrideEnvironment() throws {
        let env = ["SWITCHBOARD_SERVER_PORT": "9100", "SWITCHBOARD_LIMITS_MAXMESSAGEBYTES": "4096", "HOME": "/root"]
        let c = try ConfigLoader.load(fileBytes: file, environment: env, overrides: ["server.port": "0"])
        #expect(c.server.port == 0)
        #expect(c.limits.maxMessageBytes == 4096)
        #expect(c.server.publicUrl == "https://hub.example.com")
    }

    @Test func aMistypedEnvironmentVariableStopsTheStartNamingTheClosestKey() throws {
        do {
            _ = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_LIMITS_MAX_MESSAGE_BYTE": "5"])
            Issue.record("a typo started the hub on defaults")
        } catch {
            #expect(error.key == "SWITCHBOARD_LIMITS_MAX_MESSAGE_BYTE")
            #expect(error.reason.contains("SWITCHBOARD_LIMITS_MAX_MESSAGE_BYTES"))
        }
    }

    @Test func aMistypedEnvironmentVariableExits78() throws {
        let run = try HubProcess.runToExit(arguments: ["serve", "--port", "0"],
                                           environment: ["SWITCHBOARD_SERVER_PROT": "9"])
        #expect(run.status == 78)
        #expect(run.output.contains("SWITCHBOARD_SERVER_PROT") && run.output.contains("SWITCHBOARD_SERVER_PORT"))
    }

    @Test func bothEnvironmentSpellingsWork() throws {
        let a = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_MERGE_PENDINGWINDOWMS": "10"])
        let b = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_MERGE_PENDING_WINDOW_MS": "10"])
        #expect(a.merge.pendingWindowMs == 10 && b.merge.pendingWindowMs == 10)
        let t = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_PROVIDERS_TWILIO_AUTHTOKEN": "tok"])
        #expect(t.providers.twilioAuthToken == "tok")
    }

    @Test(arguments: [
        (#"{"limits":{"maxMessageBytes":"big"}}"#, "limits.maxMessageBytes"),
        (#"{"server":{"port":70000}}"#, "server.port"),
        (#"{"store":{"kind":"postgres"}}"#, "store.kind"),
        (#"{"keepalive":{"pingSec":30,"timeoutSec":10}}"#, "keepalive.timeoutSec"),
        (#"{"server":{"trustedProxies":["not-a-cidr"]}}"#, "server.trustedProxies"),
        (#"{"surprise":true}"#, "surprise"),
    ])
    func anInvalidValueNamesItsKey(json: String, key: String) {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileBytes: Array(json.utf8), environment: [:]) }
        do { _ = try ConfigLoader.load(fileBytes: Array(json.utf8), environment: [:]) } catch {
            #expect(error.key == key)
            #expect(error.description.contains(key))
        }
    }

    @Test func secretsCanComeFromAFile() throws {
        let path = "/tmp/sb-secret-\(UInt32.random(in: 0...UInt32.max))"
        let f = fopen(path, "w")!
        fputs("s3cret\n", f)
        fclose(f)
        defer { remove(path) }
        let c = try ConfigLoader.load(fileBytes: nil, environment: ["SWITCHBOARD_AUTH_HS256SECRET": "@" + path])
        #expect(c.auth.hs256Secret == "s3cret")
    }

    @Test func trustedProxyBlocksMatchAddresses() throws {
        let block = try #require(CIDR("10.0.0.0/8"))
        #expect(block.contains("10.1.2.3"))
        #expect(!block.contains("11.0.0.1"))
        #expect(block.contains("::ffff:10.0.0.9"))
        #expect(CIDR("::1")?.contains("::1") == true)
    }
}

#if canImport(Glibc)
import Glibc
#endif
